/*
 * Memory for the tables the firmware presents to the guest: a pool in the
 * F segment (where legacy scans look: RSDP, SMBIOS and MP entry points) and
 * a zone at the top of low RAM, reserved in the e820 map.
 */
#ifndef MINIBIOS_TABLES_MEMORY_H
#define MINIBIOS_TABLES_MEMORY_H

#include "types.h"

/* Zeroed; NULL when the pool is full. align must be a power of two. */
void *fseg_alloc(u32 size, u32 align);
/*
 * Grows down from the end of low RAM; NULL when that would eat into the
 * kernel's room. Not cleared (a 128 KiB fill costs more than the rest of the
 * boot): the caller writes every byte.
 */
void *high_alloc(u32 size, u32 align);
/* Mark what high_alloc handed out as reserved in the e820 map. */
void high_zone_commit(void);

#endif
