/*
 * The seam between firmware logic and the machine: port I/O, MMIO and
 * physical memory. The ROM build uses the real instructions; a host build
 * (HOST_BUILD) gets the same names from the test harness, so the logic
 * behind them can be driven and checked from pytest.
 */
#ifndef MINIBIOS_IO_H
#define MINIBIOS_IO_H

#ifndef __ASSEMBLER__

#include "types.h"

#ifdef HOST_BUILD
u8 inb(u16 port);
u16 inw(u16 port);
u32 inl(u16 port);
void outb(u16 port, u8 val);
void outw(u16 port, u16 val);
void outl(u16 port, u32 val);
u32 mmio_read32(u64 addr);
void mmio_write32(u64 addr, u32 val);
void *phys_ptr(u64 addr);
#else
/* The "memory" clobbers matter: a port write can start a DMA (fw_cfg). */
static inline u8 inb(u16 port)
{
	u8 v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline u16 inw(u16 port)
{
	u16 v;
	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
static inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory"); }
static inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory"); }

static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)(uptr)addr; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)(uptr)addr = v; }

/* Paging is off: physical addresses below 4 GiB are pointers. */
static inline void *phys_ptr(u64 addr) { return (void *)(uptr)addr; }
#endif

#endif /* __ASSEMBLER__ */
#endif
