/* Memory type range registers: write-back RAM, an uncached PCI hole. */
#ifndef MINIBIOS_MTRR_H
#define MINIBIOS_MTRR_H

#include "types.h"

struct msr_write {
	u32 msr;
	u32 lo;
	u32 hi;
} __packed;
_Static_assert(sizeof(struct msr_write) == 12, "msr_write"); /* ap.S: asm-offsets.c */

/* Variable MTRRs the hole may take; QEMU has eight, the rest stay the OS's. */
#define MTRR_HOLE_RANGES 6
/* MTRRdefType off, 11 fixed ranges, a base and mask per range, MTRRdefType on. */
#define MTRR_MAX_WRITES (1 + 11 + 2 * MTRR_HOLE_RANGES + 1)

/*
 * The MSR writes that set a CPU's MTRRs: default write-back, the legacy
 * VGA window uncached, the ROM area write-protected, and [hole, 4 GiB)
 * uncached in at most MIN(vcnt, MTRR_HOLE_RANGES) naturally aligned
 * power-of-two ranges (hole rounded up to fit; nothing but MMIO is above
 * RAM there). Returns the number of writes. Pure: host-tested.
 */
u32 mtrr_plan(u64 hole, u32 phys_bits, u32 vcnt, struct msr_write *out);

/* Program every CPU's MTRRs the same way, if the CPU has them. */
void mtrr_setup(u32 ncpus);

#endif
