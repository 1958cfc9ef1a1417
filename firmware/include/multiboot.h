/*
 * Multiboot (v1) kernels through QEMU's own multiboot loader: QEMU parses
 * the image, builds the boot information and hands both over in fw_cfg
 * (KERNEL_*, and the information as INITRD_*), expecting firmware to copy
 * them into place, add the memory map and jump in with EAX = 0x2badb002
 * and EBX at the information.
 */
#ifndef MINIBIOS_MULTIBOOT_H
#define MINIBIOS_MULTIBOOT_H

#include "types.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MULTIBOOT_INFO_MMAP (1 << 6)
#define MBI_FLAGS 0
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48

struct e820_map;

/* QEMU asked for its multiboot option ROM: the kernel is a multiboot image. */
bool multiboot_requested(void);
/* Write the e820 map into the boot information at mbi, if it wants one. Pure. */
void multiboot_fill_mmap(u32 mbi, const struct e820_map *map);
__noreturn void multiboot_boot(u32 entry);

#endif
