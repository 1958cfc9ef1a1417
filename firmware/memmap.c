/*
 * The machine's memory map: QEMU's etc/e820 lists RAM from address 0; the
 * firmware cuts out the VGA/option-ROM hole and reserves the EBDA, its own
 * segment, its ROM's mapping below 4 GiB and the MMCONFIG window it opened
 * (ACPI describes that too, but a kernel without ACPI uses MMCONFIG only
 * where e820 reserves it).
 */
#include "console.h"
#include "e820.h"
#include "fw_cfg.h"
#include "layout.h"
#include "platform.h"

struct e820_map e820;

static void set_or_die(u64 start, u64 end, u32 type)
{
	if (!e820_set(&e820, start, end, type))
		fatal("memory map has more than %u entries", E820_MAX);
}

void e820_init(void)
{
	u32 size = 0;
	const struct e820_entry *q = fw_cfg_load_file("etc/e820", &size);

	if (!q)
		fatal("QEMU provides no etc/e820 memory map");
	for (u32 i = 0; i < size / sizeof(*q); i++) {
		u64 end = q[i].addr + q[i].size;

		set_or_die(q[i].addr, end < q[i].addr ? ~0ull : end, q[i].type);
	}
	set_or_die(EBDA_BASE, LOW_RAM_END, E820_RESERVED);
	set_or_die(LOW_RAM_END, ROM_BASE, E820_HOLE);
	set_or_die(ROM_BASE, 1 * MiB, E820_RESERVED);
	/* The ROM's own mapping below 4 GiB: no BAR may be placed there. */
	set_or_die(ROM_HIGH_ALIAS, 4 * GiB, E820_RESERVED);
	if (platform.mmcfg_base)
		set_or_die(platform.mmcfg_base, (u64)platform.mmcfg_base + MMCFG_SIZE,
			   E820_RESERVED);
}
