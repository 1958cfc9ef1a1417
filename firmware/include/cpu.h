/* Segment selectors of the firmware's GDT (reset.S) and CPU bits. */
#ifndef MINIBIOS_CPU_H
#define MINIBIOS_CPU_H

/* 0x10 and 0x18 are also what the Linux 32-bit boot protocol asks for. */
#define SEL_CODE16 0x08 /* 16-bit code, base ROM_BASE: the way back to real mode */
#define SEL_CODE32 0x10
#define SEL_DATA32 0x18
#define SEL_DATA16 0x20 /* 16-bit data, 64 KiB limits as real mode expects */

#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)

/*
 * Offset of a ROM symbol in segment 0xf000. i386 relocations keep their
 * addend in the field, so real-mode code uses it only in 32-bit fields
 * (addr32 operands, ljmpl, 32-bit immediates).
 */
#define OFF(sym) ((sym) - ROM_BASE)

#ifndef __ASSEMBLER__
#include "types.h"

/* In entry.S: flat 32-bit mode, paging off, these registers set, to entry. */
__noreturn void enter_flat32(u32 entry, u32 eax, u32 ebx, u32 esi);
#endif

#endif
