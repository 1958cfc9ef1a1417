/*
 * Scratch memory: a bump allocator over low RAM that the firmware owns only
 * until the kernel starts (fw_cfg directory, files it parses).
 */
#ifndef MINIBIOS_SCRATCH_H
#define MINIBIOS_SCRATCH_H

#include "types.h"

void *scratch_alloc(u32 size);

#endif
