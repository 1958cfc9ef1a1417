/*
 * A bzImage from QEMU's -kernel/-initrd/-append, by the Linux boot protocol
 * (boot_kernel.c sends multiboot and PVH kernels elsewhere). Three ways in:
 * the 16-bit protocol (the real-mode setup code runs on the firmware's BIOS
 * services and enters the kernel itself), or straight into the
 * protected-mode kernel in 32-bit or 64-bit mode with a zero page the
 * firmware fills, which skips every BIOS call. opt/minibios/boot-protocol
 * ("16", "32" or "64") chooses; without it the fastest the kernel allows.
 */
#include "bios.h"
#include "console.h"
#include "cpu.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "io.h"
#include "layout.h"
#include "linux.h"
#include "paging.h"
#include "string.h"

#define SETUP_STACK_TOP 0xfff0
#define PROTOCOL_FILE "opt/minibios/boot-protocol"

/* The protocol asked for through fw_cfg, 0 for "the best one". */
static unsigned wanted_protocol(void)
{
	u32 size = 0;
	const char *s = fw_cfg_load_file(PROTOCOL_FILE, &size);
	unsigned v = 0;

	if (!s)
		return 0;
	for (u32 i = 0; i < size && s[i] >= '0' && s[i] <= '9' && v < 1000; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v != LINUX_BOOT_16 && v != LINUX_BOOT_32 && v != LINUX_BOOT_64) {
		warn("%s: want 16, 32 or 64; using the default", PROTOCOL_FILE);
		return 0;
	}
	return v;
}

void linux_boot(u64 rsdp)
{
	struct linux_image img = {
		.setup_size = fw_cfg_read32(FW_CFG_SETUP_SIZE),
		.qemu_kernel_addr = fw_cfg_read32(FW_CFG_KERNEL_ADDR),
		.kernel_size = fw_cfg_read32(FW_CFG_KERNEL_SIZE),
		.cmdline_size = fw_cfg_read32(FW_CFG_CMDLINE_SIZE),
		.initrd_size = fw_cfg_read32(FW_CFG_INITRD_SIZE),
	};
	u8 *setup = phys_ptr(LINUX_SETUP_ADDR);
	struct setup_header *hdr = (void *)(setup + SETUP_HEADER_OFFSET);
	unsigned wanted = wanted_protocol();
	enum linux_protocol protocol;
	const char *why;

	if (!img.kernel_size)
		fatal("no kernel to boot (give QEMU -kernel)");
	if (img.setup_size > SETUP_MAX_SIZE)
		fatal("bad kernel header: %u bytes of setup code", img.setup_size);
	fw_cfg_read(FW_CFG_SETUP_DATA, setup, img.setup_size);
	why = linux_check_setup(setup, &img);
	if (!why)
		why = linux_place(hdr, &img, e820_ram_end(&e820, 1 * MiB));
	if (why)
		fatal("%s", why);
	protocol = linux_pick_protocol(hdr, wanted);
	if (wanted == LINUX_BOOT_64 && protocol != LINUX_BOOT_64)
		warn("the kernel has no 64-bit entry; booting it in 32-bit mode");

	milestone(MILESTONE_LOAD_KERNEL);
	fw_cfg_read(FW_CFG_CMDLINE_DATA, phys_ptr(LINUX_CMDLINE_ADDR), img.cmdline_size);
	if (!img.cmdline_size)
		*(char *)phys_ptr(LINUX_CMDLINE_ADDR) = 0;
	fw_cfg_read(FW_CFG_KERNEL_DATA, phys_ptr(img.kernel_addr), img.kernel_size);
	if (img.kernel_addr != img.qemu_kernel_addr)
		linux_relocate_setup_data(hdr, img.qemu_kernel_addr, img.kernel_addr,
					  img.kernel_size);
	if (img.initrd_size)
		fw_cfg_read(FW_CFG_INITRD_DATA, phys_ptr(img.initrd_addr), img.initrd_size);

	if (protocol == LINUX_BOOT_16) {
		linux_patch_header(hdr, &img, LINUX_CMDLINE_ADDR);
		bios_timer_start();
		milestone(MILESTONE_KERNEL_ENTRY);
		enter_real_mode(LINUX_SETUP_ADDR >> 4, SETUP_STACK_TOP,
				(LINUX_SETUP_ADDR >> 4) + 0x20);
	}
	memset(phys_ptr(ZERO_PAGE_ADDR), 0, sizeof(struct boot_params));
	linux_fill_boot_params(phys_ptr(ZERO_PAGE_ADDR), setup, &img, &e820, LINUX_CMDLINE_ADDR,
			       rsdp);
	milestone(MILESTONE_KERNEL_ENTRY);
	if (protocol == LINUX_BOOT_32)
		enter_flat32(img.kernel_addr, 0, 0, ZERO_PAGE_ADDR); /* ESI: boot_params */
	/* Kernel, initrd, zero page, command line and tables all lie in low RAM. */
	enter_linux64(img.kernel_addr + LINUX_ENTRY64_OFFSET, ZERO_PAGE_ADDR,
		      identity_map(PAGE_TABLES_ADDR, e820_ram_end(&e820, 1 * MiB)));
}
