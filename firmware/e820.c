/* The memory map: pure construction (host-tested) and the machine's map. */
#include "e820.h"
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
	static struct e820_map out; /* too big for the firmware's stack */
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
