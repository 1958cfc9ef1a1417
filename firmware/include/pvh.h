/*
 * The PVH boot ABI (Xen's HVM direct boot, xen/include/public/arch-x86/
 * hvm/start_info.h): QEMU loads an ELF kernel with a PVH note itself and
 * puts its entry in FW_CFG_KERNEL_ENTRY; the firmware fills hvm_start_info
 * and jumps there in flat 32-bit mode, paging off, EBX pointing at it.
 */
#ifndef MINIBIOS_PVH_H
#define MINIBIOS_PVH_H

#include "types.h"

#define HVM_START_MAGIC 0x336ec578
#define HVM_START_VERSION 1 /* the version with a memory map */

struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr;
	u32 memmap_entries;
	u32 reserved;
} __packed;

struct hvm_modlist_entry {
	u64 paddr;
	u64 size;
	u64 cmdline_paddr;
	u64 reserved;
} __packed;

struct hvm_memmap_entry {
	u64 addr;
	u64 size;
	u32 type;
	u32 reserved;
} __packed;

struct e820_map;

/*
 * Fill the start info at addr (with its module list and memory map right
 * after it) for a command line at cmdline and an initrd (none if size 0).
 * Returns the bytes used. Pure.
 */
u32 pvh_fill_start_info(u32 addr, const struct e820_map *map, u32 cmdline, u32 initrd,
			u32 initrd_size, u64 rsdp);

/* Boot the PVH kernel QEMU loaded, entering at entry. */
__noreturn void pvh_boot(u32 entry, u64 rsdp);

#endif
