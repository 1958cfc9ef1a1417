/* Entering the kernel: one file per way in (linux_boot.c, pvh.c, multiboot.c). */
#ifndef MINIBIOS_BOOT_KERNEL_H
#define MINIBIOS_BOOT_KERNEL_H

#include "types.h"

/*
 * Fill the real-mode state every kernel finds, then load and enter the
 * kernel QEMU was given by the protocol it speaks: multiboot, PVH or Linux.
 */
__noreturn void boot_kernel(u64 rsdp);

#endif
