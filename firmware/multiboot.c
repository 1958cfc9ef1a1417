#include "bios.h"
#include "console.h"
#include "cpu.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "io.h"
#include "layout.h"
#include "multiboot.h"
#include "string.h"

/* One memory map entry as multiboot has it: its size (20) first. */
struct multiboot_mmap_entry {
	u32 size;
	u64 addr;
	u64 len;
	u32 type;
} __packed;
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "multiboot mmap entry");

/* Free low memory when QEMU's spot is taken: below the firmware's stack in
 * use, and the top of the scratch area (done with by now). */
static const u32 block_spots[] = { MULTIBOOT_QEMU_BASE, 0x1000, SCRATCH_END - 0x1000 };

bool multiboot_requested(void)
{
	const struct fw_cfg_dir *dir = fw_cfg_directory();

	return fw_cfg_dir_find(dir, "genroms/multiboot_dma.bin") ||
	       fw_cfg_dir_find(dir, "genroms/multiboot.bin");
}

u32 multiboot_block_base(u32 kernel, u32 kernel_size)
{
	u64 kernel_end = (u64)kernel + kernel_size;

	for (u32 i = 0; i < ARRAY_SIZE(block_spots); i++) {
		u32 spot = block_spots[i];

		if (!kernel_size || spot + MULTIBOOT_BLOCK_SIZE <= kernel || spot >= kernel_end)
			return spot;
	}
	return 0;
}

u32 multiboot_mem_upper_kb(const struct e820_map *map)
{
	u64 end = MIN(e820_ram_end(map, 1 * MiB), 4 * GiB);

	return end > 1 * MiB ? (u32)((end - 1 * MiB) >> 10) : 0;
}

u32 multiboot_write_info(u32 base, const void *qemu_info, u32 info_size,
			 const struct e820_map *map, u32 mem_lower_kb)
{
	struct multiboot_mmap_entry *entry = phys_ptr(base);
	u32 mbi = base + MULTIBOOT_MMAP_ROOM;
	struct multiboot_info *info = phys_ptr(mbi);
	u32 count = MIN(map->count, MULTIBOOT_MMAP_ROOM / sizeof(*entry));

	memset(info, 0, sizeof(*info));
	memcpy(info, qemu_info, MIN(info_size, (u32)sizeof(*info)));
	if (info->flags & MULTIBOOT_INFO_MEMORY) {
		info->mem_lower = mem_lower_kb;
		info->mem_upper = multiboot_mem_upper_kb(map);
	}
	if (info->flags & MULTIBOOT_INFO_MMAP) {
		for (u32 i = 0; i < count; i++)
			entry[i] = (struct multiboot_mmap_entry){ sizeof(entry[i]) - 4,
								  map->entry[i].addr,
								  map->entry[i].size,
								  map->entry[i].type };
		info->mmap_length = count * sizeof(*entry);
		info->mmap_addr = base;
	}
	return mbi;
}

void multiboot_boot(u32 entry)
{
	u32 kernel = fw_cfg_read32(FW_CFG_KERNEL_ADDR);
	u32 kernel_size = fw_cfg_read32(FW_CFG_KERNEL_SIZE);
	u32 info_size = fw_cfg_read32(FW_CFG_INITRD_SIZE);
	struct multiboot_info qemu_info = { 0 };
	u32 base, mbi;

	/* In one RAM region: never over the EBDA, the ROM or the tables. */
	if ((u64)kernel + kernel_size > e820_ram_end(&e820, kernel))
		fatal("multiboot image does not fit in RAM");
	base = multiboot_block_base(kernel, kernel_size);
	if (!base)
		fatal("multiboot image leaves no room for the boot information");
	fw_cfg_read(FW_CFG_INITRD_DATA, &qemu_info, MIN(info_size, (u32)sizeof(qemu_info)));
	milestone(MILESTONE_LOAD_KERNEL);
	fw_cfg_read(FW_CFG_KERNEL_DATA, phys_ptr(kernel), kernel_size);
	mbi = multiboot_write_info(base, &qemu_info, info_size, &e820, BASE_MEM_KB);
	bios_timer_start();
	milestone(MILESTONE_KERNEL_ENTRY);
	enter_flat32(entry, MULTIBOOT_BOOTLOADER_MAGIC, mbi, 0);
}
