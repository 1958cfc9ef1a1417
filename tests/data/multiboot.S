/*
 * A multiboot (v1) test kernel: checks that it was entered as multiboot says
 * and with what kernels such as Xen and kvm-unit-tests rely on, says so on
 * COM1 ("MULTIBOOT-OK", or "MULTIBOOT-BAD: " and the first check that
 * failed) and leaves through isa-debug-exit (port 0x501). Built by the tests
 * with gcc -m32, linked at 1 MiB or low (0x8000, over QEMU's 0x9000/0x9500
 * information blocks, as kvm-unit-tests' realmode test is).
 *
 * Checked: EAX magic; the information's memory map; mem_lower/mem_upper
 * flagged, plausible and agreeing with the map; the BIOS data area's base
 * memory (0x413) equal to mem_lower and its EBDA segment (0x40e) at or above
 * it; the int 15h vector pointing into the F segment; and the kernel's own
 * image (a pattern spanning 0x9000-0x9600 when linked low) not overwritten.
 */
#define PATTERN 0x5aa5c33c
#define PATTERN_WORDS 2048

	.text
	.align 4
	.long 0x1BADB002
	.long 0x00000003          /* page-align modules, want memory info */
	.long -(0x1BADB002 + 0x00000003)

	.globl _start
_start:
	cli
	movl $stack_top, %esp
	movl $msg_magic, %esi
	cmpl $0x2BADB002, %eax
	jne bad

	/* The image is whole: nobody wrote over the pattern. */
	movl $msg_image, %esi
	movl $pattern, %edi
	movl $PATTERN_WORDS, %ecx
1:	cmpl $PATTERN, (%edi)
	jne bad
	addl $4, %edi
	loop 1b

	movl $msg_mmap, %esi
	testb $0x40, (%ebx)       /* flags: mmap present */
	jz bad
	movl 44(%ebx), %ecx       /* mmap_length */
	testl %ecx, %ecx
	jz bad
	movl 48(%ebx), %edi       /* mmap_addr: the first entry is RAM from 0 */
	cmpl $20, (%edi)
	jne bad
	cmpl $0, 4(%edi)
	jne bad
	cmpl $1, 20(%edi)
	jne bad

	movl $msg_mem_flag, %esi
	testb $0x01, (%ebx)       /* flags: mem_lower/mem_upper valid */
	jz bad
	movl $msg_mem_lower, %esi
	movl 4(%ebx), %eax        /* mem_lower (KiB): 512-640, the map's first entry */
	cmpl $512, %eax
	jb bad
	cmpl $640, %eax
	ja bad
	shll $10, %eax
	cmpl 12(%edi), %eax
	jne bad
	movl $msg_mem_upper, %esi
	movl 8(%ebx), %eax        /* mem_upper (KiB): at least 16 MiB above 1 MiB */
	cmpl $16384, %eax
	jb bad

	movl $msg_bda_base, %esi
	movzwl 0x413, %eax        /* BDA: base memory in KiB, as mem_lower says */
	cmpl 4(%ebx), %eax
	jne bad
	movl $msg_bda_ebda, %esi
	movzwl 0x40e, %ecx        /* BDA: EBDA segment, in low RAM above base memory */
	shll $4, %ecx
	shll $10, %eax
	cmpl %eax, %ecx
	jb bad
	cmpl $0xa0000, %ecx
	jae bad

	movl $msg_ivt, %esi
	cmpw $0xf000, 0x56        /* IVT: int 15h's segment (vector 0x15 at 0x54) */
	jne bad

	movl $msg_ok, %esi
	call print
	jmp off
bad:	pushl %esi
	movl $msg_bad, %esi
	call print
	popl %esi
	call print
	movl $msg_nl, %esi
	call print
off:	movw $0x501, %dx
	outb %al, %dx
2:	hlt
	jmp 2b

print:	movw $0x3f8, %dx
1:	lodsb
	testb %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	ret

	.align 4
pattern:
	.fill PATTERN_WORDS, 4, PATTERN

msg_ok:	.asciz "MULTIBOOT-OK\n"
msg_bad: .asciz "MULTIBOOT-BAD: "
msg_nl: .asciz "\n"
msg_magic: .asciz "magic"
msg_image: .asciz "image overwritten"
msg_mmap: .asciz "mmap"
msg_mem_flag: .asciz "mem flag"
msg_mem_lower: .asciz "mem_lower"
msg_mem_upper: .asciz "mem_upper"
msg_bda_base: .asciz "BDA 0x413"
msg_bda_ebda: .asciz "BDA 0x40e"
msg_ivt: .asciz "IVT int 15h"

	.bss
	.space 4096
stack_top:
