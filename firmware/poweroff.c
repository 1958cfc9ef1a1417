/*
 * Power-off, tried in order of what the machine may have: ACPI PM1 control
 * on pc/q35 (S5 is SLP_TYP 0 in QEMU), the microvm generic event device,
 * then isa-debug-exit at its default port. If all are missing, halt with
 * interrupts off: QEMU stays up, but nothing loops or resets.
 */
#include "io.h"
#include "platform.h"
#include "poweroff.h"

#define PM1_CNT 4
#define PM1_CNT_SLP_EN (1 << 13)
#define MICROVM_GED_SLEEP_CTL 0xfea00200
#define GED_SLEEP_S5 ((5 << 2) | (1 << 5)) /* SLP_TYP 5, SLP_EN */
#define ISA_DEBUG_EXIT_PORT 0x501

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
