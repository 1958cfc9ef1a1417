/*
 * Multiboot (v1) kernels through QEMU's own multiboot loader: QEMU parses
 * the image and hands over in fw_cfg the kernel with its modules, their
 * command lines and module list (KERNEL_*, one blob for its load address)
 * and the boot information (INITRD_*). Like QEMU's multiboot option
 * ROM, the firmware adds mem_lower/mem_upper and the memory map, then jumps
 * in with EAX = 0x2badb002 and EBX at the information.
 *
 * QEMU means the map for 0x9000 and the information for 0x9500; a kernel
 * loaded over those addresses (kvm-unit-tests' realmode test spans
 * 0x8000-0xda30) gets them somewhere clear of its image instead.
 */
#ifndef MINIBIOS_MULTIBOOT_H
#define MINIBIOS_MULTIBOOT_H

#include "types.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MULTIBOOT_INFO_MEMORY (1 << 0)
#define MULTIBOOT_INFO_MMAP (1 << 6)

/*
 * The boot information (Multiboot Specification 0.6.96, section 3.3), all 88
 * bytes as QEMU builds them; the firmware fills in only memory and the map.
 */
struct multiboot_info {
	u32 flags;
	u32 mem_lower;  /* MULTIBOOT_INFO_MEMORY: KiB below 640 KiB */
	u32 mem_upper;  /* and from 1 MiB up to the first hole */
	u32 boot_device;
	u32 cmdline;
	u32 mods_count;
	u32 mods_addr;
	u32 syms[4];    /* a.out or ELF symbols: QEMU's, untouched */
	u32 mmap_length; /* MULTIBOOT_INFO_MMAP: the map's bytes and address */
	u32 mmap_addr;
	u32 drives_length;
	u32 drives_addr;
	u32 config_table;
	u32 boot_loader_name;
	u32 apm_table;
	u32 vbe_control_info;
	u32 vbe_mode_info;
	u16 vbe_mode;
	u16 vbe_interface_seg;
	u16 vbe_interface_off;
	u16 vbe_interface_len;
} __packed;

#define MBI_CHECK(f, off) \
	_Static_assert(__builtin_offsetof(struct multiboot_info, f) == (off), "multiboot_info " #f)
MBI_CHECK(mem_lower, 4);
MBI_CHECK(mem_upper, 8);
MBI_CHECK(cmdline, 16);
MBI_CHECK(syms, 28);
MBI_CHECK(mmap_length, 44);
MBI_CHECK(mmap_addr, 48);
MBI_CHECK(boot_loader_name, 64);
MBI_CHECK(vbe_mode, 80);
#undef MBI_CHECK
_Static_assert(sizeof(struct multiboot_info) == 88, "multiboot_info");

#define MULTIBOOT_QEMU_BASE 0x9000   /* QEMU's map address; the information follows */
#define MULTIBOOT_MMAP_ROOM 0x500    /* QEMU's room for the map: 53 entries */
#define MULTIBOOT_BLOCK_SIZE (MULTIBOOT_MMAP_ROOM + sizeof(struct multiboot_info))

struct e820_map;

/* QEMU asked for its multiboot option ROM: the kernel is a multiboot image. */
bool multiboot_requested(void);
/*
 * Where the map and information go: QEMU's 0x9000 unless the kernel's image
 * [kernel, kernel + size) covers part of it, else the first of a few free
 * low-memory spots clear of it; 0 when none is. Pure.
 */
u32 multiboot_block_base(u32 kernel, u32 kernel_size);
/* KiB of RAM from 1 MiB up to the first hole (below 4 GiB), as QEMU's ROM counts. Pure. */
u32 multiboot_mem_upper_kb(const struct e820_map *map);
/*
 * The map at base, QEMU's information (info_size bytes) after it with the
 * memory fields and the map's address and length filled in as its flags
 * ask. Returns the information's address (for EBX). Pure.
 */
u32 multiboot_write_info(u32 base, const void *qemu_info, u32 info_size,
			 const struct e820_map *map, u32 mem_lower_kb);
__noreturn void multiboot_boot(u32 entry);

#endif
