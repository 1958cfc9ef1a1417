/*
 * The boot protocol's rules, kept free of I/O so the host tests can feed
 * them arbitrary headers.
 */
#include "layout.h"
#include "linux.h"

const char *linux_check_setup(const void *setup, const struct linux_image *img)
{
	const struct setup_header *hdr = (const void *)((const u8 *)setup + SETUP_HEADER_OFFSET);
	u32 sects;

	if (img->setup_size < SETUP_HEADER_OFFSET + sizeof(*hdr))
		return "kernel setup block too small for a boot header";
	sects = hdr->setup_sects ? hdr->setup_sects : 4;
	if (hdr->boot_flag != BOOT_FLAG_MAGIC)
		return "bad kernel header: no 0xaa55 boot flag";
	if (hdr->header != HDRS_MAGIC)
		return "bad kernel header: no HdrS signature (not a bzImage)";
	if (hdr->version < LINUX_MIN_VERSION)
		return "kernel boot protocol too old (need 2.06 or later)";
	if (!(hdr->loadflags & LOADFLAG_LOADED_HIGH))
		return "kernel is not a bzImage (not loaded high)";
	if ((sects + 1) * 512 != img->setup_size || img->setup_size > SETUP_MAX_SIZE)
		return "bad kernel header: setup_sects out of range";
	if (img->cmdline_size > 1 && img->cmdline_size - 1 > hdr->cmdline_size)
		return "kernel command line longer than the kernel accepts";
	if (img->cmdline_size > LINUX_CMDLINE_MAX)
		return "kernel command line longer than 64 KiB";
	return NULL;
}

const char *linux_place_initrd(const struct setup_header *hdr, struct linux_image *img,
			       u64 low_ram_end)
{
	u64 kernel_end = (u64)img->kernel_addr + MAX(img->kernel_size, hdr->init_size);
	u64 top = MIN((u64)hdr->initrd_addr_max + 1, low_ram_end);

	if (kernel_end > low_ram_end)
		return "kernel does not fit in RAM";
	img->initrd_addr = 0;
	if (!img->initrd_size)
		return NULL;
	if (img->initrd_size > top || ALIGN_DOWN(top - img->initrd_size, 4096) < kernel_end)
		return "initrd does not fit in RAM between the kernel and its address limit";
	img->initrd_addr = (u32)ALIGN_DOWN(top - img->initrd_size, 4096);
	return NULL;
}

void linux_patch_header(struct setup_header *hdr, const struct linux_image *img, u32 cmdline_addr)
{
	hdr->type_of_loader = LOADER_TYPE_UNDEFINED;
	hdr->loadflags |= LOADFLAG_CAN_USE_HEAP;
	hdr->heap_end_ptr = SETUP_HEAP_END;
	hdr->code32_start = img->kernel_addr;
	hdr->cmd_line_ptr = cmdline_addr;
	hdr->ramdisk_image = img->initrd_addr;
	hdr->ramdisk_size = img->initrd_size;
}
