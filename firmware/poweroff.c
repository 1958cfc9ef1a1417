/*
 * The machine's end. Power-off, tried in order of what the machine may have:
 * ACPI PM1 control on pc/q35 (S5 is SLP_TYP 0 in QEMU), the microvm generic
 * event device, then isa-debug-exit at its default port. If all are missing,
 * halt with interrupts off: QEMU stays up, but nothing loops or resets.
 * Reset: the chipset's reset control register on pc/q35, a triple fault on
 * microvm; either way QEMU applies its reset policy (-no-reboot ends the VM).
 */
#include "io.h"
#include "platform.h"
#include "poweroff.h"

#define PM1_CNT 4
#define PM1_CNT_SLP_EN (1 << 13)
#define MICROVM_GED_SLEEP_CTL 0xfea00200
#define GED_SLEEP_S5 ((5 << 2) | (1 << 5)) /* SLP_TYP 5, SLP_EN */
#define ISA_DEBUG_EXIT_PORT 0x501
/* PIIX3 RCR / ICH9 RST_CNT: QEMU resets the machine on any write with bit 2. */
#define RESET_CONTROL 0xcf9
#define RESET_SYSTEM (1 << 1) /* a hard reset, not just the CPU */
#define RESET_CPU (1 << 2)    /* do it now */

#ifdef HOST_BUILD
void harness_power_off(void) __noreturn;
#endif

void power_off(void)
{
#ifdef HOST_BUILD
	harness_power_off();
#endif
	if (platform.pm_base)
		outw(platform.pm_base + PM1_CNT, PM1_CNT_SLP_EN);
	if (platform.chipset == CHIPSET_NONE)
		*(volatile u8 *)phys_ptr(MICROVM_GED_SLEEP_CTL) = GED_SLEEP_S5;
	outb(ISA_DEBUG_EXIT_PORT, 0);
	for (;;)
		asm volatile("cli; hlt");
}

void machine_reset(void)
{
	static const struct {
		u16 limit;
		u32 base;
	} __packed no_idt;

#ifdef HOST_BUILD
	harness_power_off(); /* the host harness tells no end from another */
#endif
	/* Wait for the reset: a triple fault right after the request could
	 * reach QEMU after it started the reset, and reset the machine again. */
	if (platform.chipset != CHIPSET_NONE) {
		outb(RESET_CONTROL, RESET_SYSTEM | RESET_CPU);
		for (;;)
			asm volatile("cli; hlt");
	}
	/* microvm: no reset register. No vector fits an empty IDT: #GP, #DF,
	 * then the triple fault, which QEMU takes as a reset request. */
	asm volatile("lidt %0; int3" : : "m"(no_idt));
	for (;;)
		asm volatile("cli; hlt");
}
