/* Intel MultiProcessor Specification 1.4 tables, for guests booted with acpi=off. */
#ifndef MINIBIOS_MPTABLE_H
#define MINIBIOS_MPTABLE_H

#include "types.h"

struct acpi_madt;

#define MP_MAX_CPUS 255
#define MP_MAX_PCI_IRQS 256
#define MP_SPEC_REV 4 /* 1.4 */

/* The floating pointer ("_MP_"): found by the scan, points at the table. */
struct mp_floating {
	char signature[4];
	u32 config;      /* the configuration table's address */
	u8 length;       /* in 16-byte units: 1 */
	u8 revision;
	u8 checksum;
	u8 feature[5];   /* feature[0] = 0: the table is there, no default config */
} __packed;

/* The configuration table ("PCMP"): this header, then `entries` entries. */
struct mp_config_header {
	char signature[4];
	u16 length;      /* header and entries */
	u8 revision;
	u8 checksum;
	char oem[8];
	char product[12];
	u32 oem_table;
	u16 oem_table_size;
	u16 entries;
	u32 lapic;       /* every CPU's local APIC address */
	u16 ext_length;
	u8 ext_checksum;
	u8 reserved;
} __packed;

/* Entry types; each entry starts with its type byte. */
enum mp_entry_type { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };

#define MP_CPU_ENABLED 1
#define MP_CPU_BSP 2

struct mp_processor {
	u8 type;
	u8 apic_id;
	u8 apic_version;
	u8 flags;        /* MP_CPU_ENABLED, MP_CPU_BSP */
	u32 signature;   /* CPUID 1: EAX */
	u32 features;    /* CPUID 1: EDX */
	u32 reserved[2];
} __packed;

struct mp_bus {
	u8 type;
	u8 id;
	char name[6];    /* "PCI   ", "ISA   ": space-padded, no NUL */
} __packed;

#define MP_IOAPIC_ENABLED 1

struct mp_ioapic {
	u8 type;
	u8 id;
	u8 version;
	u8 flags;        /* MP_IOAPIC_ENABLED */
	u32 addr;
} __packed;

/* Interrupt kinds of an I/O or local interrupt entry. */
enum mp_irq_type { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_IRQ_CONFORMS 0x00       /* polarity and trigger as the bus has them */
#define MP_IRQ_ACTIVE_LOW_LEVEL 0x0f /* polarity 11b, trigger 11b: PCI */
#define MP_ALL_LAPICS 0xff         /* dst_apic of a local interrupt for every CPU */

/* An I/O interrupt (to an I/O APIC pin) or a local one (to a LINTn pin). */
struct mp_intr {
	u8 type;         /* MP_IOINTR or MP_LINTR */
	u8 irq_type;     /* enum mp_irq_type */
	u16 flags;       /* MP_IRQ_* */
	u8 src_bus;
	u8 src_irq;      /* ISA: the IRQ; PCI: slot << 2 | INTx */
	u8 dst_apic;     /* I/O APIC ID, or local APIC ID (MP_ALL_LAPICS) */
	u8 dst_pin;      /* I/O APIC pin, or LINT0/LINT1 */
} __packed;

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP configuration table header");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry");
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus entry");
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP I/O APIC entry");
_Static_assert(sizeof(struct mp_intr) == 8, "MP interrupt entry");

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

/*
 * Take the CPUs (enabled local APICs), the I/O APIC and ISA IRQ 0's override
 * from a MADT; entries past the table's length are not read. Host-tested.
 */
void mp_config_from_madt(struct mp_config *cfg, const struct acpi_madt *madt);

/*
 * The most bytes mptable_build can use for cfg: the floating pointer, the
 * header, the CPUs, the PCI buses and ISA, the I/O APIC and the interrupts.
 */
u32 mptable_size(const struct mp_config *cfg);

/* Gather the machine's CPUs and interrupts (from QEMU's MADT when there is one)
 * and place the MP table; returns the number of CPUs. */
u32 mptable_setup(u32 rsdp);

#endif
