#include "interrupts.h"
#include "io.h"

#define PIC1_IMR 0x21
#define PIC2_IMR 0xa1
#define LAPIC_BASE 0xfee00000u
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define SVR_ENABLE (1 << 8)
#define SPURIOUS_VECTOR 0xff
#define LVT_EXTINT (7 << 8)
#define LVT_NMI (4 << 8)

void interrupts_init(void)
{
	/* QEMU's 8259 takes its mask (OCW1) straight out of reset; the kernel
	 * programs the rest when it wants the PIC. */
	outb(PIC1_IMR, 0xff);
	outb(PIC2_IMR, 0xff);
	/* Software-enable first: a disabled APIC keeps every LVT entry masked. */
	mmio_write32(LAPIC_BASE + LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
	mmio_write32(LAPIC_BASE + LAPIC_LVT_LINT0, LVT_EXTINT);
	mmio_write32(LAPIC_BASE + LAPIC_LVT_LINT1, LVT_NMI);
}
