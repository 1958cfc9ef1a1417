/* SMBIOS (DMTF DSP0134): QEMU's tables, entry point and our Type 0. */
#ifndef MINIBIOS_SMBIOS_H
#define MINIBIOS_SMBIOS_H

#include "types.h"

/* The 2.1 (32-bit) entry point: "_SM_", and "_DMI_" for older readers. */
struct smbios_entry21 {
	char anchor[4];             /* "_SM_" */
	u8 checksum;                /* of all `length` bytes */
	u8 length;                  /* 0x1f */
	u8 major, minor;
	u16 max_structure_size;     /* the largest structure, strings included */
	u8 revision;
	u8 formatted[5];
	char intermediate_anchor[5]; /* "_DMI_": the DMI 2.0 entry point from here */
	u8 intermediate_checksum;    /* of the 15 bytes from "_DMI_" */
	u16 table_length;
	u32 table_addr;
	u16 structures;             /* how many the table holds */
	u8 bcd_revision;
} __packed;

/* The 3.0 (64-bit) entry point: "_SM3_". */
struct smbios_entry30 {
	char anchor[5];             /* "_SM3_" */
	u8 checksum;                /* of all `length` bytes */
	u8 length;                  /* 0x18 */
	u8 major, minor, docrev;
	u8 revision;
	u8 reserved;
	u32 table_max_size;         /* an upper bound of the table's length */
	u64 table_addr;
} __packed;

#define SMBIOS_ENTRY21_SIZE 0x1f
#define SMBIOS_ENTRY30_SIZE 0x18
_Static_assert(sizeof(struct smbios_entry21) == SMBIOS_ENTRY21_SIZE, "SMBIOS 2.1 entry");
_Static_assert(__builtin_offsetof(struct smbios_entry21, intermediate_anchor) == 0x10, "_DMI_");
_Static_assert(sizeof(struct smbios_entry30) == SMBIOS_ENTRY30_SIZE, "SMBIOS 3.0 entry");

/* Every structure starts so; its strings follow the formatted area. */
struct smbios_header {
	u8 type;
	u8 length;                  /* of the formatted area, this header included */
	u16 handle;
} __packed;

#define SMBIOS_TYPE_BIOS 0
#define SMBIOS_TYPE_END 127

/* Type 0, BIOS information, as of SMBIOS 2.4; the strings are numbered from 1. */
struct smbios_type0 {
	struct smbios_header header;
	u8 vendor_str;
	u8 version_str;
	u16 start_segment;          /* where the BIOS starts in real mode */
	u8 release_date_str;
	u8 rom_size;                /* (n + 1) * 64 KiB */
	u64 characteristics;
	u8 characteristics_ext1;
	u8 characteristics_ext2;
	u8 major;
	u8 minor;
	u8 ec_major;                /* embedded controller firmware: 0xff, none */
	u8 ec_minor;
} __packed;

_Static_assert(sizeof(struct smbios_header) == 4, "SMBIOS structure header");
_Static_assert(sizeof(struct smbios_type0) == 0x18, "SMBIOS Type 0");

/* Does the structure table hold a structure of this type? Pure. */
bool smbios_has_type(const u8 *tables, u32 size, u8 type);
/* Write the firmware's Type 0 (BIOS information) to buf; returns its size. Pure. */
u32 smbios_type0(u8 *buf, u32 room);
/*
 * Point an entry point (2.1 "_SM_" or 3.0 "_SM3_") at a table of len bytes
 * at addr that gained added structures of at most max_struct bytes, and fix
 * its checksums. False if the entry point is not one of those. Pure.
 */
bool smbios_patch_entry(u8 *entry, u32 entry_size, u32 addr, u32 len, u16 added,
			u16 max_struct);

/* Install QEMU's SMBIOS, adding our Type 0 if QEMU gave none. */
void smbios_setup(void);

#endif
