/*
 * Jumps into kernels: flat segments 0x10 (code) and 0x18 (data), as the
 * Linux boot protocol (Documentation/arch/x86/boot.rst) asks and PVH and
 * multiboot accept, interrupts off. The 64-bit Linux entry also turns on PAE
 * paging with the identity map and long mode, through a GDT whose 0x10 is a
 * 64-bit segment.
 */
#include "cpu.h"

	.text
	.code32

	/*
	 * void enter_flat32(u32 entry, u32 eax, u32 ebx, u32 esi): every entry
	 * in flat 32-bit mode with paging off (Linux 32-bit, PVH, multiboot);
	 * they differ only in what the registers carry.
	 */
	.globl enter_flat32
enter_flat32:
	cli
	movl 4(%esp), %ecx
	movl 8(%esp), %eax
	movl 12(%esp), %ebx
	movl 16(%esp), %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	jmp *%ecx

	/* void enter_linux64(u32 entry, u32 boot_params, u32 pml4) */
	.globl enter_linux64
enter_linux64:
	cli
	movl 4(%esp), %edi
	movl 8(%esp), %esi
	movl 12(%esp), %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	lgdt gdt64_desc
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0
	ljmp $SEL_CODE32, $1f

	.code64
1:	movl $SEL_DATA32, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl %edi, %eax /* zero-extends: the entry is below 4 GiB */
	xorl %ebp, %ebp
	xorl %edi, %edi
	xorl %ebx, %ebx
	jmp *%rax

	.section .rodata
	.balign 8
gdt64:
	.quad 0
	.quad 0
	.quad 0x00af9b000000ffff /* 0x10: 64-bit code */
	.quad 0x00cf93000000ffff /* 0x18: flat data */
gdt64_end:
gdt64_desc:
	.word gdt64_end - gdt64 - 1
	.long gdt64
