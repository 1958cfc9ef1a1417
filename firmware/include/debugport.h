/*
 * Boot milestones, one byte written to I/O port 0xf4 (the convention of the
 * qemu-boot-time tooling). Without a device there the write is dropped;
 * `-device isa-debugcon,iobase=0xf4,chardev=…` makes it visible, and QEMU's
 * memory_region_ops_write trace timestamps it.
 */
#ifndef MINIBIOS_DEBUGPORT_H
#define MINIBIOS_DEBUGPORT_H


#define DEBUG_PORT 0xf4
#define MILESTONE_FIRMWARE_START 1 /* written by the reset code itself */
#define MILESTONE_LOAD_KERNEL 2     /* fw_cfg transfer of the kernel starts */
#define MILESTONE_KERNEL_ENTRY 3    /* jump into the kernel (a bzImage's entries) */
#define MILESTONE_PVH_ENTRY 4       /* jump into a PVH kernel */

#ifndef __ASSEMBLER__
#include "io.h"

static inline void milestone(u8 m) { outb(DEBUG_PORT, m); }
#endif

#endif
