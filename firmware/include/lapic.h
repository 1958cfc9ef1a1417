/* The boot CPU's local APIC at its default base, which QEMU never moves. */
#ifndef MINIBIOS_LAPIC_H
#define MINIBIOS_LAPIC_H

#define LAPIC_BASE 0xfee00000u
#define LAPIC_SVR 0x0f0       /* spurious interrupt vector */
#define LAPIC_ICR_LOW 0x300   /* interrupt command: sends INIT and SIPI */
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360

#endif
