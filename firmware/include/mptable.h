/* Intel MultiProcessor Specification 1.4 tables, for guests booted with acpi=off. */
#ifndef MINIBIOS_MPTABLE_H
#define MINIBIOS_MPTABLE_H

#include "types.h"

#define MP_MAX_CPUS 255
#define MP_MAX_PCI_IRQS 256

/* A PCI device's INTx as it reaches the I/O APIC. */
struct mp_pci_irq {
	u8 bus;
	u8 slot;
	u8 intx;     /* 0-3 for INTA-INTD, at the device */
	u8 ioapic_pin;
};

struct mp_config {
	u32 ncpus;
	u8 apic_id[MP_MAX_CPUS]; /* apic_id[0] is the boot CPU */
	u32 cpu_signature;       /* CPUID 1: EAX */
	u32 cpu_features;        /* CPUID 1: EDX */
	u8 ioapic_id;
	u32 ioapic_addr;
	u8 irq0_pin;             /* I/O APIC pin of ISA IRQ 0 (2 with QEMU's override) */
	u16 pci_irq_mask;        /* ISA IRQs taken by PCI: no ISA entry for them */
	u8 pci_buses;            /* how many PCI buses (numbered from 0); 0 on microvm */
	u32 npci_irqs;
	struct mp_pci_irq pci_irq[MP_MAX_PCI_IRQS];
};

/*
 * Build the floating pointer and the configuration table into buf, which
 * the guest will see at address addr. Returns the bytes used, 0 if room is
 * too small. Pure: host-tested.
 */
u32 mptable_build(u8 *buf, u32 room, u32 addr, const struct mp_config *cfg);

/* Gather the machine's CPUs and interrupts (from QEMU's MADT when there is one)
 * and place the MP table; returns the number of CPUs. */
u32 mptable_setup(u32 rsdp);

#endif
