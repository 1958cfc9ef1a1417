/*
 * The boot protocol's rules, kept free of I/O so the host tests can feed
 * them arbitrary headers.
 */
#include "e820.h"
#include "io.h"
#include "layout.h"
#include "linux.h"
#include "string.h"

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

/* The initrd at the top of [kernel end, min(initrd_addr_max + 1, low RAM end)). */
static const char *place_at(const struct setup_header *hdr, struct linux_image *img,
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

const char *linux_place(const struct setup_header *hdr, struct linux_image *img,
			u64 low_ram_end)
{
	u64 pref = hdr->pref_address;

	/* A relocatable kernel names the address it runs best at (protocol 2.10). */
	if (hdr->version >= 0x020a && hdr->relocatable_kernel && pref >= LINUX_DEFAULT_LOAD &&
	    pref < 4 * GiB && !(pref & (hdr->kernel_alignment - 1))) {
		img->kernel_addr = (u32)pref;
		if (!place_at(hdr, img, low_ram_end))
			return NULL;
	}
	img->kernel_addr = LINUX_DEFAULT_LOAD;
	return place_at(hdr, img, low_ram_end);
}

enum linux_protocol linux_pick_protocol(const struct setup_header *hdr, unsigned wanted)
{
	bool has64 = hdr->version >= 0x020c && (hdr->xloadflags & XLF_KERNEL_64);

	if (wanted == LINUX_BOOT_16 || wanted == LINUX_BOOT_32)
		return wanted;
	return has64 ? LINUX_BOOT_64 : LINUX_BOOT_32;
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

struct setup_data {
	u64 next;
	u32 type;
	u32 len;
} __packed;

#define SETUP_DATA_MAX_CHAIN 64 /* QEMU adds one or two; this only stops a loop */

void linux_relocate_setup_data(struct setup_header *hdr, u64 from, u64 to, u32 size)
{
	/* Each link is a packed u64: the header's setup_data, then every entry's next. */
	u8 *link = (u8 *)hdr + __builtin_offsetof(struct setup_header, setup_data);

	for (unsigned i = 0; i < SETUP_DATA_MAX_CHAIN; i++) {
		u64 addr;

		memcpy(&addr, link, 8);
		if (!addr || addr < from || addr - from >= size)
			return; /* the end, or not in the kernel image: it did not move */
		addr += to - from;
		memcpy(link, &addr, 8);
		link = (u8 *)phys_ptr(addr) + __builtin_offsetof(struct setup_data, next);
	}
}

void linux_fill_boot_params(struct boot_params *bp, const void *setup,
			    const struct linux_image *img, const struct e820_map *map,
			    u32 cmdline_addr, u64 rsdp)
{
	const u8 *s = setup;
	const struct setup_header *src = (const void *)(s + SETUP_HEADER_OFFSET);
	/* The header runs to the end of its jump (at 0x200) plus the jump's displacement. */
	u32 hdr_end = SETUP_HEADER_OFFSET + __builtin_offsetof(struct setup_header, header) +
		      (src->jump >> 8);
	u32 count = MIN(map->count, (u32)E820_MAX);
	u64 ext_kb = 0;

	if (hdr_end > img->setup_size)
		hdr_end = img->setup_size;
	if (hdr_end > __builtin_offsetof(struct boot_params, e820_table))
		hdr_end = __builtin_offsetof(struct boot_params, e820_table);
	/* Raw bytes: a newer kernel's header may run past our struct setup_header. */
	memcpy((u8 *)bp + SETUP_HEADER_OFFSET, src, hdr_end - SETUP_HEADER_OFFSET);
	linux_patch_header(&bp->hdr, img, cmdline_addr);
	if (bp->hdr.version >= 0x020e)
		bp->acpi_rsdp_addr = rsdp;
	bp->e820_entries = (u8)count;
	memcpy(bp->e820_table, map->entry, count * sizeof(map->entry[0]));
	for (u32 i = 0; i < count; i++)
		if (map->entry[i].type == E820_RAM && map->entry[i].addr <= 1 * MiB &&
		    map->entry[i].addr + map->entry[i].size > 1 * MiB)
			ext_kb = (map->entry[i].addr + map->entry[i].size - 1 * MiB) >> 10;
	bp->alt_mem_k = (u32)MIN(ext_kb, 0xffffffffull);
}
