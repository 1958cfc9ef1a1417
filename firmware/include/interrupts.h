#ifndef MINIBIOS_INTERRUPTS_H
#define MINIBIOS_INTERRUPTS_H

/*
 * Legacy interrupt delivery as a kernel expects to find it: both 8259s
 * masked, and the boot CPU's local APIC in virtual-wire mode (MP spec
 * 3.6.2.2), the 8259's output passing through LINT0 and NMIs through LINT1.
 *
 * Out of reset LINT0 is masked, so a kernel that keeps to the PIC (acpi=off
 * without MP-table support, or nolapic) would never see a timer tick. And
 * with LINT0 open, an unmasked, unprogrammed 8259 would hand its first
 * interrupt to a kernel that was told there is no 8259 (microvm's ACPI)
 * and so never masks it.
 */
void interrupts_init(void);

/*
 * The 8259s and the PIT as a PC BIOS leaves them for real-mode code, on
 * machines with a PC chipset: vectors 08h-0Fh and 70h-77h, the timer (IRQ 0,
 * 18.2 Hz, its int 08h handler acknowledges it) and the cascade unmasked,
 * the rest masked. Real-mode code that waits with sti; hlt (kvm-unit-tests'
 * realmode test) relies on that tick. A kernel masks or reprograms both
 * before it enables interrupts, as it does after SeaBIOS.
 */
void interrupts_bios_mode(void);

#endif
