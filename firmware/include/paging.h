#ifndef MINIBIOS_PAGING_H
#define MINIBIOS_PAGING_H

#include "types.h"

#define IDENTITY_MAP_TABLES 6 /* PML4, PDPT and four page directories */

/*
 * Identity-map [0, limit) rounded up to whole GiB (at most 4 GiB) with
 * 2 MiB pages in the six 4 KiB pages at base, as the 64-bit boot protocol
 * asks for what the kernel is handed. Returns the PML4's address.
 */
u32 identity_map(u32 base, u64 limit);

#endif
