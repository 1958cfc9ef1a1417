/*
 * The local APIC and I/O APIC at the addresses QEMU (and every PC) maps
 * them. Plain #defines, usable from assembly; tests/host_firmware reads
 * them from this file too, so the value lives here only.
 */
#ifndef MINIBIOS_APIC_H
#define MINIBIOS_APIC_H

#define LAPIC_BASE 0xfee00000
#define LAPIC_SVR 0x0f0       /* spurious-interrupt vector register */
#define LAPIC_ICR_LOW 0x300   /* interrupt command: writing it sends the IPI */
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360

#define IOAPIC_BASE 0xfec00000

#endif
