/* The 16-bit BIOS runtime: Linux's setup code and multiboot kernels call into it. */
#ifndef MINIBIOS_BIOS_H
#define MINIBIOS_BIOS_H

#include "types.h"

/* Answers the real-mode handlers (bios16.S) give; filled by bios_init. */
struct bios_memory {
	u16 ext_kb;       /* int 15h AH=88h: KiB above 1 MiB, at most 0xffff */
	u16 e801_low_kb;  /* int 15h AX=E801h: KiB between 1 and 16 MiB */
	u16 e801_high_64k;/* ... and 64 KiB blocks between 16 MiB and 4 GiB */
};

extern struct bios_memory bios_memory;

/* The BIOS data area at BDA_BASE: what bios_init sets and int 08h counts. */
struct bios_data_area {
	u16 com_port[4];     /* I/O bases of COM1-COM4 */
	u16 lpt_port[3];
	u16 ebda_seg;        /* segment of the extended BIOS data area */
	u16 equipment;       /* int 11h's answer */
	u8 reserved_12;
	u16 base_mem_kb;     /* int 12h's answer: KiB below the EBDA */
	u8 reserved_15[0x6c - 0x15];
	u32 ticks;           /* timer ticks since midnight (int 08h) */
	u8 reserved_70[0x100 - 0x70];
} __packed;
_Static_assert(sizeof(struct bios_data_area) == 0x100, "BDA");
_Static_assert(__builtin_offsetof(struct bios_data_area, ebda_seg) == 0x0e, "BDA");
_Static_assert(__builtin_offsetof(struct bios_data_area, base_mem_kb) == 0x13, "BDA");
_Static_assert(__builtin_offsetof(struct bios_data_area, ticks) == 0x6c, "BDA");

/* Interrupt vectors, BIOS data area, EBDA and the memory answers, from e820;
 * for every kernel, before it is loaded (a kernel loaded over them wins). */
void bios_init(void);
/* The BIOS tick: the 8259s at vectors 08h/70h with IRQ 0 open and the PIT at
 * 18.2 Hz (pc, q35), for kernels that may run real-mode code on our services
 * (Linux's 16-bit setup, multiboot). A kernel entered in protected mode
 * programs its interrupt controllers itself: its boot saves these 15 port
 * writes. */
void bios_timer_start(void);
/* Pure: the int 15h 88h/E801h answers for a RAM region [1 MiB, end). */
struct bios_memory bios_memory_from(u64 ext_end);

/* Leave protected mode and jump to cs:0 with ds = es = ss = seg, sp = sp. */
__noreturn void enter_real_mode(u16 seg, u16 sp, u16 cs);

#endif
