/*
 * The BIOS memory map: the map algebra (e820_set, host-tested) and the
 * machine's map built with it. QEMU's etc/e820 lists RAM from address 0;
 * the firmware cuts out the VGA/option-ROM hole and reserves the EBDA, its
 * own segment, its ROM's mapping below 4 GiB and the MMCONFIG window it
 * opened (ACPI describes that too, but a kernel without ACPI uses MMCONFIG
 * only where e820 reserves it).
 */
#include "console.h"
#include "e820.h"
#include "fw_cfg.h"
#include "layout.h"
#include "platform.h"
#include "string.h"

static bool entry_push(struct e820_map *m, u64 start, u64 end, u32 type)
{
	if (start >= end || type == E820_HOLE)
		return true;
	if (m->count && m->entry[m->count - 1].type == type &&
	    m->entry[m->count - 1].addr + m->entry[m->count - 1].size == start) {
		m->entry[m->count - 1].size += end - start;
		return true;
	}
	if (m->count == E820_MAX)
		return false;
	m->entry[m->count++] = (struct e820_entry){ start, end - start, type };
	return true;
}

bool e820_set(struct e820_map *map, u64 start, u64 end, u32 type)
{
	struct e820_map out; /* built aside, so a failure leaves map as it was */
	bool placed = false;

	if (start >= end)
		return true;
	out.count = 0;
	/* Entries are sorted and disjoint: copy them, cutting out [start, end)
	 * and putting the new range where it belongs in address order. */
	for (u32 i = 0; i < map->count; i++) {
		const struct e820_entry *e = &map->entry[i];
		u64 e_end = e->addr + e->size;

		if (!placed && e->addr >= start) {
			if (!entry_push(&out, start, end, type))
				return false;
			placed = true;
		}
		if (!entry_push(&out, e->addr, MIN(e_end, start), e->type))
			return false;
		if (!placed && e_end > start) {
			if (!entry_push(&out, start, end, type))
				return false;
			placed = true;
		}
		if (!entry_push(&out, MAX(e->addr, end), e_end, e->type))
			return false;
	}
	if (!placed && !entry_push(&out, start, end, type))
		return false;
	memcpy(map, &out, sizeof(out.count) + out.count * sizeof(out.entry[0]));
	return true;
}

u64 e820_ram_end(const struct e820_map *map, u64 addr)
{
	for (u32 i = 0; i < map->count; i++) {
		const struct e820_entry *e = &map->entry[i];

		if (e->type == E820_RAM && e->addr <= addr && addr < e->addr + e->size)
			return e->addr + e->size;
	}
	return addr;
}

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
