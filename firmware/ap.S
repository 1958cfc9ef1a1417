/*
 * Where the application processors start when mtrr.c sends them a SIPI
 * (vector 0xf0: real mode, CS = 0xf000, IP = 0; rom.ld puts this at
 * 0xf0000): write the MSRs the BSP listed in ap_msrs, count in, and halt
 * in the F segment, which the OS leaves alone, until it starts them itself
 * (INIT keeps the MTRRs).
 */
#include "asm-offsets.h"
#include "cpu.h"
#include "layout.h"

	.section .text.ap16, "ax"
	.code16
	.globl ap_entry
ap_entry:
	cli
	xorl %esi, %esi
	addr32 movl %cs:OFF(ap_msr_count), %edi
1:	testl %edi, %edi
	jz 2f
	addr32 movl %cs:OFF(ap_msrs) + MSR_WRITE_MSR(%esi), %ecx
	addr32 movl %cs:OFF(ap_msrs) + MSR_WRITE_LO(%esi), %eax
	addr32 movl %cs:OFF(ap_msrs) + MSR_WRITE_HI(%esi), %edx
	wrmsr
	addl $SIZEOF_MSR_WRITE, %esi
	decl %edi
	jmp 1b
2:	addr32 lock incl %cs:OFF(ap_done)
3:	hlt
	jmp 3b
