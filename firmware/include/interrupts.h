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

#endif
