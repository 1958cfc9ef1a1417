/*
 * The way into the kernel QEMU was given. An entry point in fw_cfg means
 * QEMU parsed the image itself: a multiboot image (its multiboot option ROM
 * was asked for) or an ELF kernel with a PVH note that it also loaded.
 * Anything else is a bzImage for the Linux boot protocol.
 */
#include "bios.h"
#include "boot_kernel.h"
#include "fw_cfg.h"
#include "linux.h"
#include "multiboot.h"
#include "pvh.h"

void boot_kernel(u64 rsdp)
{
	u32 entry = fw_cfg_read32(FW_CFG_KERNEL_ENTRY);

	/* The same real-mode state for every kernel, however it is entered. */
	bios_init();
	if (entry && multiboot_requested())
		multiboot_boot(entry);
	if (entry)
		pvh_boot(entry, rsdp);
	linux_boot(rsdp);
}
