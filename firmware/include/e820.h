/* The BIOS memory map (e820), as the firmware hands it to the kernel. */
#ifndef MINIBIOS_E820_H
#define MINIBIOS_E820_H

#include "types.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_NVS 4
#define E820_PMEM 7
#define E820_HOLE 0 /* e820_set: remove the range from the map */

#define E820_MAX 128 /* what boot_params can carry */

/* As int 15h E820 and boot_params hand entries out: 20 bytes. */
struct e820_entry {
	u64 addr;
	u64 size;
	u32 type;
} __packed;
_Static_assert(sizeof(struct e820_entry) == 20, "e820_entry");

struct e820_map {
	u32 count;
	struct e820_entry entry[E820_MAX];
};

/*
 * Give [start, end) the type (or remove it, for E820_HOLE), overriding what
 * was there. The map stays sorted, non-overlapping, with no zero-length
 * entries and neighbours of one type merged. Returns false, leaving the map
 * as it was, when the result would not fit. Pure: host-tested.
 */
bool e820_set(struct e820_map *map, u64 start, u64 end, u32 type);
/* End of the RAM region that contains addr, or addr itself if none does. */
u64 e820_ram_end(const struct e820_map *map, u64 addr);

/* The machine's map: QEMU's etc/e820 with the firmware's own areas carved out. */
extern struct e820_map e820;
void e820_init(void);

#endif
