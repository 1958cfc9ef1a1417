/*
 * Linux through the 16-bit boot protocol: the real-mode setup code runs on
 * the firmware's BIOS services and enters the kernel itself.
 */
#include "bios.h"
#include "console.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "io.h"
#include "layout.h"
#include "linux.h"

#define SETUP_STACK_TOP 0xfff0

void linux_boot(void)
{
	struct linux_image img = {
		.setup_size = fw_cfg_read32(FW_CFG_SETUP_SIZE),
		.kernel_addr = fw_cfg_read32(FW_CFG_KERNEL_ADDR),
		.kernel_size = fw_cfg_read32(FW_CFG_KERNEL_SIZE),
		.cmdline_size = fw_cfg_read32(FW_CFG_CMDLINE_SIZE),
		.initrd_size = fw_cfg_read32(FW_CFG_INITRD_SIZE),
	};
	u8 *setup = phys_ptr(LINUX_SETUP_ADDR);
	struct setup_header *hdr = (void *)(setup + SETUP_HEADER_OFFSET);
	const char *why;

	if (!img.kernel_size)
		fatal("no kernel to boot (give QEMU -kernel)");
	if (img.setup_size > SETUP_MAX_SIZE)
		fatal("bad kernel header: %u bytes of setup code", img.setup_size);
	fw_cfg_read(FW_CFG_SETUP_DATA, setup, img.setup_size);
	why = linux_check_setup(setup, &img);
	if (!why)
		why = linux_place_initrd(hdr, &img, e820_ram_end(&e820, 1 * MiB));
	if (why)
		fatal("%s", why);
	linux_patch_header(hdr, &img, LINUX_CMDLINE_ADDR);

	milestone(MILESTONE_LOAD_KERNEL);
	fw_cfg_read(FW_CFG_CMDLINE_DATA, phys_ptr(LINUX_CMDLINE_ADDR), img.cmdline_size);
	if (!img.cmdline_size)
		*(char *)phys_ptr(LINUX_CMDLINE_ADDR) = 0;
	fw_cfg_read(FW_CFG_KERNEL_DATA, phys_ptr(img.kernel_addr), img.kernel_size);
	if (img.initrd_size)
		fw_cfg_read(FW_CFG_INITRD_DATA, phys_ptr(img.initrd_addr), img.initrd_size);

	milestone(MILESTONE_KERNEL_16BIT);
	enter_real_mode(LINUX_SETUP_ADDR >> 4, SETUP_STACK_TOP, (LINUX_SETUP_ADDR >> 4) + 0x20);
}
