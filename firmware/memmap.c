/*
 * The machine's memory map: QEMU's etc/e820 lists RAM from address 0; the
 * firmware cuts out the VGA/option-ROM hole and reserves its own segment.
 */
#include "console.h"
#include "e820.h"
#include "fw_cfg.h"
#include "layout.h"

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
	set_or_die(LOW_RAM_END, ROM_BASE, E820_HOLE);
	set_or_die(ROM_BASE, 1 * MiB, E820_RESERVED);
}
