/* Page tables for entering Linux in long mode: 4 GiB, identity, 2 MiB pages. */
#include "io.h"
#include "paging.h"
#include "string.h"

#define PAGE_SIZE 4096u
#define PTE_PRESENT (1u << 0)
#define PTE_WRITE (1u << 1)
#define PTE_LARGE (1u << 7)

u32 identity_map_4g(u32 base)
{
	u64 *pml4 = phys_ptr(base);
	u64 *pdpt = phys_ptr(base + PAGE_SIZE);
	u64 *pd = phys_ptr(base + 2 * PAGE_SIZE);

	memset(pml4, 0, 2 * PAGE_SIZE);
	pml4[0] = (base + PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (u32 i = 0; i < 4; i++)
		pdpt[i] = (base + (2 + i) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (u32 i = 0; i < 4 * 512; i++)
		pd[i] = ((u64)i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
	return base;
}
