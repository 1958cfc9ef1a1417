/*
 * ACPI (ACPI 6.x, chapter 5.2): the tables the firmware reads. QEMU builds
 * them all; the firmware only follows the RSDP to a table and walks the MADT.
 */
#ifndef MINIBIOS_ACPI_H
#define MINIBIOS_ACPI_H

#include "types.h"

/* Root System Description Pointer: "RSD PTR ", found in the F segment. */
struct acpi_rsdp {
	char signature[8];
	u8 checksum;     /* of the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	u8 revision;     /* 0: ACPI 1.0, RSDT only; 2 and later: the fields below too */
	u32 rsdt_addr;
	/* revision >= 2 */
	u32 length;      /* of the whole RSDP */
	u64 xsdt_addr;
	u8 ext_checksum; /* of all `length` bytes */
	u8 reserved[3];
} __packed;

#define ACPI_RSDP_V1_SIZE __builtin_offsetof(struct acpi_rsdp, length)
#define ACPI_RSDP_XSDT_REVISION 2

_Static_assert(ACPI_RSDP_V1_SIZE == 20, "ACPI 1.0 RSDP");
_Static_assert(__builtin_offsetof(struct acpi_rsdp, xsdt_addr) == 24, "RSDP");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

/* The header every System Description Table starts with. */
struct acpi_header {
	char signature[4];
	u32 length;      /* of the whole table, this header included */
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	u32 oem_revision;
	u32 creator_id;
	u32 creator_revision;
} __packed;

_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

/* The RSDT's entries are 32-bit table addresses, the XSDT's 64-bit ones. */
#define ACPI_RSDT_ENTRY_SIZE 4
#define ACPI_XSDT_ENTRY_SIZE 8

/* Multiple APIC Description Table ("APIC"): variable-length entries follow. */
struct acpi_madt {
	struct acpi_header header;
	u32 lapic_addr;
	u32 flags;       /* bit 0: 8259s present too */
} __packed;

_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

enum acpi_madt_type {
	MADT_LOCAL_APIC = 0,
	MADT_IO_APIC = 1,
	MADT_INT_OVERRIDE = 2,
};

/* Each MADT entry starts with its type and its length, header included. */
struct acpi_madt_entry {
	u8 type;
	u8 length;
} __packed;

#define MADT_LAPIC_ENABLED 1 /* acpi_madt_lapic.flags: the CPU can be used */

struct acpi_madt_lapic {
	struct acpi_madt_entry entry;
	u8 processor_uid;
	u8 apic_id;
	u32 flags;
} __packed;

struct acpi_madt_ioapic {
	struct acpi_madt_entry entry;
	u8 ioapic_id;
	u8 reserved;
	u32 addr;
	u32 gsi_base;    /* the first global system interrupt on its pins */
} __packed;

/* An ISA IRQ wired to another GSI than its number (QEMU: IRQ 0 on GSI 2). */
struct acpi_madt_override {
	struct acpi_madt_entry entry;
	u8 bus;          /* 0: ISA */
	u8 source_irq;
	u32 gsi;
	u16 flags;       /* polarity and trigger mode; 0: as the bus has them */
} __packed;

_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "MADT local APIC");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT I/O APIC");
_Static_assert(sizeof(struct acpi_madt_override) == 10, "MADT override");

/* Install QEMU's ACPI tables; the RSDP's address, or 0 if QEMU has none. */
u32 acpi_setup(void);
/* A table by signature, found through the RSDP's RSDT/XSDT; NULL if absent. */
const void *acpi_find_table(u32 rsdp, const char *signature);

#endif
