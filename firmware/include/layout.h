/*
 * Where things live in guest memory while the firmware runs. One place, so
 * that no two users of low memory can collide without it showing here.
 */
#ifndef MINIBIOS_LAYOUT_H
#define MINIBIOS_LAYOUT_H

#define ROM_BASE 0xf0000       /* the 64 KiB ROM, shadowed into RAM, linked here */
#define ROM_SIZE 0x10000
#define ROM_HIGH_ALIAS 0xffff0000 /* the same ROM just below 4 GiB, always readable */

#define BDA_BASE 0x400          /* BIOS data area (the IVT is below it) */
#define STACK_TOP 0x8000        /* firmware stack: 0x1000..0x8000 */
#define ZERO_PAGE_ADDR 0x8000   /* boot_params (32/64-bit Linux), or PVH start info */
#define PAGE_TABLES_ADDR 0x9000 /* 64-bit entry: PML4, PDPT, 4 PDs (to 0xf000) */
#define LINUX_SETUP_ADDR 0x10000 /* real-mode kernel code + heap + stack: 64 KiB */
#define LINUX_CMDLINE_ADDR 0x20000
#define LINUX_CMDLINE_MAX 0x10000
#define SCRATCH_BASE 0x30000    /* fw_cfg directory, files the firmware parses */
#define SCRATCH_END 0x90000
#define EBDA_BASE 0x9fc00      /* extended BIOS data area: 1 KiB, reserved in e820 */
#define LOW_RAM_END 0xa0000     /* conventional memory ends at the VGA hole */
#define BASE_MEM_KB (EBDA_BASE >> 10) /* what the BDA and int 12h report: 639 */

#endif
