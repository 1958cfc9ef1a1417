/*
 * The 32-bit and 64-bit Linux entries (Documentation/arch/x86/boot.rst):
 * flat segments 0x10 (code) and 0x18 (data), interrupts off, ESI/RSI
 * pointing at boot_params. The 64-bit one also turns on PAE paging with the
 * identity map and long mode, through a GDT whose 0x10 is a 64-bit segment.
 */
#include "cpu.h"

#define MULTIBOOT_MAGIC 0x2badb002

	.text
	.code32

	/* void enter_linux32(u32 entry, u32 boot_params) */
	.globl enter_linux32
enter_linux32:
	cli
	movl 4(%esp), %eax
	movl 8(%esp), %esi
	xorl %ebp, %ebp
	xorl %edi, %edi
	xorl %ebx, %ebx
	jmp *%eax

	/* void enter_pvh(u32 entry, u32 start_info): the PVH ABI wants EBX */
	.globl enter_pvh
enter_pvh:
	cli
	movl 4(%esp), %eax
	movl 8(%esp), %ebx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	jmp *%eax

	/* void enter_multiboot(u32 entry, u32 mbi) */
	.globl enter_multiboot
enter_multiboot:
	cli
	movl 4(%esp), %ecx
	movl 8(%esp), %ebx
	movl $MULTIBOOT_MAGIC, %eax
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
