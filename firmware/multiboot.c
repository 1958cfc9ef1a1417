#include "console.h"
#include "cpu.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "io.h"
#include "multiboot.h"
#include "string.h"

/* One memory map entry as multiboot has it: its size (20) first. */
struct multiboot_mmap_entry {
	u32 size;
	u64 addr;
	u64 len;
	u32 type;
} __packed;

bool multiboot_requested(void)
{
	const struct fw_cfg_dir *dir = fw_cfg_directory();

	return fw_cfg_dir_find(dir, "genroms/multiboot_dma.bin") ||
	       fw_cfg_dir_find(dir, "genroms/multiboot.bin");
}

void multiboot_fill_mmap(u32 mbi, const struct e820_map *map)
{
	u8 *info = phys_ptr(mbi);
	u32 flags, mmap_addr, length;
	struct multiboot_mmap_entry *entry;

	memcpy(&flags, info + MBI_FLAGS, 4);
	if (!(flags & MULTIBOOT_INFO_MMAP))
		return;
	memcpy(&mmap_addr, info + MBI_MMAP_ADDR, 4);
	entry = phys_ptr(mmap_addr);
	for (u32 i = 0; i < map->count; i++)
		entry[i] = (struct multiboot_mmap_entry){ sizeof(entry[i]) - 4, map->entry[i].addr,
							  map->entry[i].size, map->entry[i].type };
	length = map->count * sizeof(*entry);
	memcpy(info + MBI_MMAP_LENGTH, &length, 4);
}

void multiboot_boot(u32 entry)
{
	u32 kernel = fw_cfg_read32(FW_CFG_KERNEL_ADDR);
	u32 kernel_size = fw_cfg_read32(FW_CFG_KERNEL_SIZE);
	u32 mbi = fw_cfg_read32(FW_CFG_INITRD_ADDR);
	u32 mbi_size = fw_cfg_read32(FW_CFG_INITRD_SIZE);
	u64 ram_end = e820_ram_end(&e820, 1 * MiB);

	if ((u64)kernel + kernel_size > ram_end || (u64)mbi + mbi_size > ram_end)
		fatal("multiboot image does not fit in RAM");
	milestone(MILESTONE_LOAD_KERNEL);
	fw_cfg_read(FW_CFG_KERNEL_DATA, phys_ptr(kernel), kernel_size);
	fw_cfg_read(FW_CFG_INITRD_DATA, phys_ptr(mbi), mbi_size);
	multiboot_fill_mmap(mbi, &e820);
	milestone(MILESTONE_KERNEL_ENTRY);
	enter_flat32(entry, MULTIBOOT_BOOTLOADER_MAGIC, mbi, 0);
}
