/*
 * Offsets and sizes of the C structures the assembly reads (ap.S,
 * bios16.S), so that their layout is written once, in C. Compiled to
 * assembly only, never linked: each ASM_CONST leaves a "->NAME value"
 * string in the output, which the Makefile turns into a #define in
 * build/asm-offsets.h.
 */
#include "bios.h"
#include "e820.h"
#include "mtrr.h"

#define ASM_CONST(name, value) asm volatile(".ascii \"->" #name " %c0\"" : : "i"(value))
#define ASM_OFFSET(name, type, member) ASM_CONST(name, __builtin_offsetof(type, member))

void asm_offsets(void);

void asm_offsets(void)
{
	/* ap.S: every AP writes the MSRs the BSP listed. */
	ASM_OFFSET(MSR_WRITE_MSR, struct msr_write, msr);
	ASM_OFFSET(MSR_WRITE_LO, struct msr_write, lo);
	ASM_OFFSET(MSR_WRITE_HI, struct msr_write, hi);
	ASM_CONST(SIZEOF_MSR_WRITE, sizeof(struct msr_write));

	/* bios16.S: int 15h's answers, from bios_memory and the e820 map. */
	ASM_OFFSET(BIOS_MEMORY_EXT_KB, struct bios_memory, ext_kb);
	ASM_OFFSET(BIOS_MEMORY_E801_LOW_KB, struct bios_memory, e801_low_kb);
	ASM_OFFSET(BIOS_MEMORY_E801_HIGH_64K, struct bios_memory, e801_high_64k);
	ASM_OFFSET(E820_MAP_COUNT, struct e820_map, count);
	ASM_OFFSET(E820_MAP_ENTRY, struct e820_map, entry);
	ASM_CONST(SIZEOF_E820_ENTRY, sizeof(struct e820_entry));

	/* bios16.S: int 08h counts the ticks in the BIOS data area. */
	ASM_OFFSET(BDA_TICKS, struct bios_data_area, ticks);
}
