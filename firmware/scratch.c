#include "console.h"
#include "io.h"
#include "layout.h"
#include "scratch.h"

static u32 scratch_next = SCRATCH_BASE;

void *scratch_alloc(u32 size)
{
	u32 addr = scratch_next;

	if (size > SCRATCH_END - addr)
		fatal("out of scratch memory (%u bytes wanted)", size);
	scratch_next = ALIGN_UP(addr + size, 16u);
	return phys_ptr(addr);
}
