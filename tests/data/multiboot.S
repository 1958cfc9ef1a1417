/*
 * A multiboot (v1) test kernel: checks that it was entered as multiboot says
 * (EAX magic, a memory map in the information EBX points at), says so on
 * COM1 and leaves through isa-debug-exit. Built by the tests with gcc -m32.
 */
	.text
	.align 4
	.long 0x1BADB002
	.long 0x00000003          /* page-align modules, want memory info */
	.long -(0x1BADB002 + 0x00000003)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	cmpl $0x2BADB002, %eax
	jne bad
	movl 44(%ebx), %ecx       /* mmap_length */
	testb $0x40, (%ebx)       /* flags: mmap present */
	jz bad
	testl %ecx, %ecx
	jz bad
	movl $msg_ok, %esi
	jmp print
bad:	movl $msg_bad, %esi
print:	movw $0x3f8, %dx
1:	lodsb
	testb %al, %al
	jz off
	outb %al, %dx
	jmp 1b
off:	movw $0x501, %dx
	outb %al, %dx
2:	hlt
	jmp 2b

	.data
msg_ok:	.asciz "MULTIBOOT-OK\n"
msg_bad: .asciz "MULTIBOOT-BAD\n"
	.bss
	.space 4096
stack_top:
