/* PVH: the ELF kernel is already in memory; describe the machine and jump. */
#include "console.h"
#include "cpu.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "io.h"
#include "layout.h"
#include "pvh.h"
#include "string.h"

u32 pvh_fill_start_info(u32 addr, const struct e820_map *map, u32 cmdline, u32 initrd,
			u32 initrd_size, u64 rsdp)
{
	struct hvm_start_info *si = phys_ptr(addr);
	u32 modlist = addr + sizeof(*si);
	u32 memmap = modlist + (initrd_size ? sizeof(struct hvm_modlist_entry) : 0);
	struct hvm_memmap_entry *mm = phys_ptr(memmap);

	*si = (struct hvm_start_info){
		.magic = HVM_START_MAGIC,
		.version = HVM_START_VERSION,
		.cmdline_paddr = cmdline,
		.rsdp_paddr = rsdp,
		.memmap_paddr = memmap,
		.memmap_entries = map->count,
	};
	if (initrd_size) {
		si->nr_modules = 1;
		si->modlist_paddr = modlist;
		*(struct hvm_modlist_entry *)phys_ptr(modlist) =
			(struct hvm_modlist_entry){ .paddr = initrd, .size = initrd_size };
	}
	for (u32 i = 0; i < map->count; i++)
		mm[i] = (struct hvm_memmap_entry){ map->entry[i].addr, map->entry[i].size,
						   map->entry[i].type, 0 };
	return memmap + map->count * sizeof(*mm) - addr;
}

void pvh_boot(u32 entry, u64 rsdp)
{
	u32 kernel_end = fw_cfg_read32(FW_CFG_KERNEL_ADDR) + fw_cfg_read32(FW_CFG_KERNEL_SIZE);
	u32 cmdline_size = fw_cfg_read32(FW_CFG_CMDLINE_SIZE);
	u32 initrd_size = fw_cfg_read32(FW_CFG_INITRD_SIZE);
	u64 ram_end = e820_ram_end(&e820, 1 * MiB);
	u32 initrd = 0;

	if (cmdline_size > LINUX_CMDLINE_MAX)
		fatal("kernel command line longer than 64 KiB");
	if (initrd_size) {
		/* At the top of low RAM, clear of the kernel QEMU loaded. */
		if (initrd_size > ram_end || ALIGN_DOWN(ram_end - initrd_size, 4096) < kernel_end)
			fatal("initrd does not fit in RAM above the kernel");
		initrd = (u32)ALIGN_DOWN(ram_end - initrd_size, 4096);
	}
	milestone(MILESTONE_LOAD_KERNEL);
	fw_cfg_read(FW_CFG_CMDLINE_DATA, phys_ptr(LINUX_CMDLINE_ADDR), cmdline_size);
	if (!cmdline_size)
		*(char *)phys_ptr(LINUX_CMDLINE_ADDR) = 0;
	if (initrd_size)
		fw_cfg_read(FW_CFG_INITRD_DATA, phys_ptr(initrd), initrd_size);
	pvh_fill_start_info(ZERO_PAGE_ADDR, &e820, LINUX_CMDLINE_ADDR, initrd, initrd_size, rsdp);
	milestone(MILESTONE_PVH_ENTRY);
	enter_flat32(entry, 0, ZERO_PAGE_ADDR, 0); /* the PVH ABI: EBX at the start info */
}
