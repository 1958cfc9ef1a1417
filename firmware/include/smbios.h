/* SMBIOS (DMTF DSP0134): QEMU's tables, entry point and our Type 0. */
#ifndef MINIBIOS_SMBIOS_H
#define MINIBIOS_SMBIOS_H

#include "types.h"

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
