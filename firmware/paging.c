/* Page tables for entering Linux in long mode: 4 GiB, identity, 2 MiB pages. */
#include "io.h"
#include "paging.h"
#include "string.h"

#define PAGE_SIZE 4096u
#define PTE_PRESENT (1u << 0)
#define PTE_WRITE (1u << 1)
#define PTE_LARGE (1u << 7)

u32 identity_map(u32 base, u64 limit)
{
	u64 *pml4 = phys_ptr(base);
	u64 *pdpt = phys_ptr(base + PAGE_SIZE);
	u32 *pd = phys_ptr(base + 2 * PAGE_SIZE);
	u32 gigs = (u32)MIN(ALIGN_UP(MAX(limit, 1ull), (u64)GiB) >> 30, 4ull);

	memset(pml4, 0, 2 * PAGE_SIZE);
	pml4[0] = (base + PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (u32 i = 0; i < gigs; i++)
		pdpt[i] = (base + (2 + i) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	/* Two 32-bit halves: no 64-bit arithmetic in a 32-bit build. */
	for (u32 i = 0; i < gigs * 512; i++) {
		pd[2 * i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
		pd[2 * i + 1] = i >> 11;
	}
	return base;
}
