#include "e820.h"
#include "io.h"
#include "string.h"
#include "tables_memory.h"

#define FSEG_POOL_SIZE (8 * KiB) /* an MP table for 255 CPUs fits */
#define HIGH_ZONE_MAX (16 * MiB)

static u8 fseg_pool[FSEG_POOL_SIZE] __aligned(16);
static u32 fseg_used;
static u64 high_top, high_next;

void *fseg_alloc(u32 size, u32 align)
{
	uptr base = (uptr)fseg_pool;
	uptr addr = ALIGN_UP(base + fseg_used, (uptr)align);

	if (addr < base + fseg_used || size > FSEG_POOL_SIZE - (addr - base))
		return NULL;
	fseg_used = addr - base + size;
	return memset((void *)addr, 0, size);
}

void *high_alloc(u32 size, u32 align)
{
	u64 addr;

	if (!high_top)
		high_top = high_next = e820_ram_end(&e820, 1 * MiB);
	if (size > high_next)
		return NULL;
	addr = ALIGN_DOWN(high_next - size, (u64)align);
	if (high_top - addr > HIGH_ZONE_MAX)
		return NULL;
	high_next = addr;
	return phys_ptr(addr); /* not cleared: every user fills all it asked for */
}

void high_zone_commit(void)
{
	if (high_top > high_next)
		e820_set(&e820, ALIGN_DOWN(high_next, 4096u), high_top, E820_RESERVED);
}
