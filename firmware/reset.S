/*
 * From reset to C: the CPU starts in real mode at 0xffff0 (through the
 * 0xfffffff0 alias), switches to flat 32-bit protected mode with caches on
 * and calls firmware_main on a stack in low RAM.
 */
#include "cpu.h"
#include "layout.h"
#include "pci.h"

	.section .text16, "ax"
	.code16
start16:
	cli
	cld
	addr32 lgdtl %cs:OFF(gdt_desc)
	movl %cr0, %eax
	andl $~(CR0_CD | CR0_NW), %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $start32

	.code32
start32:
	movl $SEL_DATA32, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss
	movl $STACK_TOP, %esp
	call firmware_main

/*
 * void shadow_fseg(u32 cf8_addr, u32 data_port, u32 pam_value): turn
 * 0xf0000-0xfffff into RAM by writing pam_value to the PAM register at
 * cf8_addr/data_port (platform.c encodes both), copy the ROM's code
 * and data into it, clear its .bss and copy the reset vector (a reset enters
 * through the always-ROM alias at 0xfffffff0, but a jump to F000:FFF0 without
 * a reset lands in the copy, which must then find its way to platform_init).
 * Called at its high alias (0xffffxxxx): the low copy is not there while
 * this runs. Position-independent, no data. 16 bytes a turn, no rep: TCG
 * runs rep movs an iteration at a time.
 */
	.globl shadow_fseg
shadow_fseg:
	pushl %esi
	pushl %edi
	movl 12(%esp), %eax
	movw $PCI_CONFIG_ADDR, %dx
	outl %eax, %dx
	movl 16(%esp), %edx
	movl 20(%esp), %eax
	outb %al, %dx
	movl $ROM_HIGH_ALIAS, %esi
	movl $ROM_BASE, %edi
1:	movl (%esi), %eax
	movl 4(%esi), %ecx
	movl 8(%esi), %edx
	movl %eax, (%edi)
	movl 12(%esi), %eax
	movl %ecx, 4(%edi)
	movl %edx, 8(%edi)
	movl %eax, 12(%edi)
	addl $16, %esi
	addl $16, %edi
	cmpl $_shadow_data_end, %edi
	jb 1b
	xorl %eax, %eax
2:	movl %eax, (%edi)
	movl %eax, 4(%edi)
	movl %eax, 8(%edi)
	movl %eax, 12(%edi)
	addl $16, %edi
	cmpl $_shadow_bss_end, %edi
	jb 2b
	movl $ROM_HIGH_ALIAS + OFF(reset_vector), %esi
	movl $reset_vector, %edi
	movl $4, %ecx
	rep movsl
	popl %edi
	popl %esi
	ret

	/* Access bits preset: the CPU need not write them into ROM. */
	.balign 8
gdt:
	.quad 0
	.quad 0x00009b0f0000ffff /* SEL_CODE16 */
	.quad 0x00cf9b000000ffff /* SEL_CODE32 */
	.quad 0x00cf93000000ffff /* SEL_DATA32 */
	.quad 0x000093000000ffff /* SEL_DATA16 */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .reset, "ax"
	.code16
	.globl reset_vector
reset_vector:
	ljmpl $(ROM_BASE >> 4), $OFF(start16)
	.balign 16, 0xf4
