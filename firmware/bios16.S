/*
 * The real-mode BIOS services Linux's setup code and multiboot kernels
 * (Xen, kvm-unit-tests) call, the BIOS tick, and the way from protected
 * mode into real mode. Handlers run with CS = 0xf000 and reach the
 * firmware's data through %cs; every call not handled returns carry set.
 */
#include "asm-offsets.h"
#include "cpu.h"
#include "layout.h"
#include "uart.h"

#define SMAP 0x534d4150
#define INT15_E820_SIZE 20 /* what int 15h E820 hands out: base, length, type */
#define KEY_SPACE 0x3920
#define FLAG_CF 0x0001
#define FLAG_ZF 0x0040

/* Return from an interrupt with the caller's carry flag set or clear. */
.macro iret_carry set
	pushw %bp
	movw %sp, %bp
	.if \set
	orw $FLAG_CF, 6(%bp)
	.else
	andw $~FLAG_CF, 6(%bp)
	.endif
	popw %bp
	iret
.endm

	.section .text16, "ax"
	.code16

	.globl int_default
int_default:
	iret_carry 1

	/* IRQ 0, the 18.2 Hz timer: count the tick in the BDA, acknowledge it. */
	.globl int08_handler
int08_handler:
	pushw %ds
	pushw %ax
	xorw %ax, %ax
	movw %ax, %ds
	incl BDA_BASE + BDA_TICKS
	movb $0x20, %al /* non-specific EOI */
	outb %al, $0x20
	popw %ax
	popw %ds
	iret

	/* Video: only teletype output (AH=0Eh), which goes to the serial port. */
	.globl int10_handler
int10_handler:
	cmpb $0x0e, %ah
	jne 2f
	pushw %ax
	pushw %dx
	movb %al, %ah
	movw $(COM1 + UART_LSR), %dx
1:	inb %dx, %al
	testb $UART_LSR_THRE, %al
	jz 1b
	movb %ah, %al
	movw $(COM1 + UART_THR), %dx
	outb %al, %dx
	popw %dx
	popw %ax
2:	iret

	.globl int11_handler
int11_handler:
	movw $0x0200, %ax /* equipment: one serial port, nothing else */
	iret

	.globl int12_handler
int12_handler:
	movw $BASE_MEM_KB, %ax
	iret

	/* Keyboard: no keyboard, but a prompt should move on: answer space. */
	.globl int16_handler
int16_handler:
	cmpb $0x02, %ah
	je 3f
	testb $0xee, %ah /* AH = 00h, 01h, 10h, 11h */
	jnz 4f
	movw $KEY_SPACE, %ax
	pushw %bp
	movw %sp, %bp
	andw $~FLAG_ZF, 6(%bp) /* for 01h/11h: a key is waiting */
	popw %bp
	iret
3:	xorb %al, %al /* no shift keys down */
4:	iret

	/* System services: the memory size calls, nothing else. */
	.globl int15_handler
int15_handler:
	cmpl $0xe820, %eax
	je int15_e820
	cmpw $0xe801, %ax
	je int15_e801
	cmpb $0x88, %ah
	je int15_88
unsupported:
	movb $0x86, %ah
	iret_carry 1

int15_88:
	addr32 movw %cs:OFF(bios_memory) + BIOS_MEMORY_EXT_KB, %ax
	iret_carry 0

int15_e801:
	addr32 movw %cs:OFF(bios_memory) + BIOS_MEMORY_E801_LOW_KB, %ax
	movw %ax, %cx
	addr32 movw %cs:OFF(bios_memory) + BIOS_MEMORY_E801_HIGH_64K, %bx
	movw %bx, %dx
	iret_carry 0

	/* EBX is the index of the entry wanted; copy it to ES:DI. */
int15_e820:
	cmpl $SMAP, %edx
	jne unsupported
	addr32 cmpl %cs:OFF(e820) + E820_MAP_COUNT, %ebx
	jae unsupported
	cmpl $INT15_E820_SIZE, %ecx
	jb unsupported
	pushw %ds
	pushl %esi
	pushw %di
	pushw %cs
	popw %ds
	imull $SIZEOF_E820_ENTRY, %ebx, %esi
	addl $OFF(e820) + E820_MAP_ENTRY, %esi
	movl $INT15_E820_SIZE, %ecx
	cld
	rep movsb
	popw %di
	popl %esi
	popw %ds
	incl %ebx
	addr32 cmpl %cs:OFF(e820) + E820_MAP_COUNT, %ebx
	jb 5f
	xorl %ebx, %ebx /* that was the last one */
5:	movl $SMAP, %eax
	movl $INT15_E820_SIZE, %ecx
	iret_carry 0

/*
 * void enter_real_mode(u16 seg, u16 sp, u16 cs): from flat protected mode
 * through a 16-bit segment (real-mode limits) to real mode, then to cs:0.
 */
	.code32
	.globl enter_real_mode
enter_real_mode:
	movzwl 4(%esp), %ebx
	movzwl 8(%esp), %ecx
	movzwl 12(%esp), %edx
	ljmpl $SEL_CODE16, $OFF(1f)
	.code16
1:	movw $SEL_DATA16, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl %cr0, %eax
	andb $~CR0_PE, %al
	movl %eax, %cr0
	ljmpl $(ROM_BASE >> 4), $OFF(2f)
2:	movw %bx, %ds
	movw %bx, %es
	movw %bx, %fs
	movw %bx, %gs
	movw %bx, %ss
	movl %ecx, %esp
	pushw %dx
	pushw $0
	lret
