#include "apic.h"
#include "interrupts.h"
#include "io.h"

#define PIC1_CMD 0x20
#define PIC1_IMR 0x21
#define PIC2_CMD 0xa0
#define PIC2_IMR 0xa1
#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascaded, ICW4 follows */
#define ICW4_8086 0x01
#define PIC1_VECTORS 0x08 /* the BIOS's IRQ 0-7 vectors */
#define PIC2_VECTORS 0x70 /* ... and IRQ 8-15 */
#define PIC1_CASCADE (1 << 2)
#define IRQ_TIMER (1 << 0)
#define PIT_CH0 0x40
#define PIT_MODE 0x43
#define PIT_CH0_RATE_GEN 0x34 /* channel 0, low then high byte, mode 2 */
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

void interrupts_bios_mode(void)
{
	outb(PIC1_CMD, ICW1_INIT_ICW4);
	outb(PIC1_IMR, PIC1_VECTORS);
	outb(PIC1_IMR, PIC1_CASCADE); /* ICW3: the slave is on IRQ 2 */
	outb(PIC1_IMR, ICW4_8086);
	outb(PIC2_CMD, ICW1_INIT_ICW4);
	outb(PIC2_IMR, PIC2_VECTORS);
	outb(PIC2_IMR, 2); /* ICW3: its cascade identity */
	outb(PIC2_IMR, ICW4_8086);
	outb(PIC1_IMR, (u8)~(IRQ_TIMER | PIC1_CASCADE));
	outb(PIC2_IMR, 0xff);
	/* Count 0 is 65536: 1.193182 MHz / 65536 = 18.2 Hz, the BIOS tick. */
	outb(PIT_MODE, PIT_CH0_RATE_GEN);
	outb(PIT_CH0, 0);
	outb(PIT_CH0, 0);
}
