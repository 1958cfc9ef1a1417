#ifndef MINIBIOS_LAPIC_H
#define MINIBIOS_LAPIC_H

/*
 * Put the boot CPU's local APIC in virtual-wire mode (MP spec 3.6.2.2):
 * the 8259's interrupts pass through LINT0, NMIs through LINT1. Out of
 * reset both are masked, so a kernel that keeps to the PIC (acpi=off with
 * no MP table support, or nolapic) would never see a timer tick.
 */
void lapic_virtual_wire(void);

#endif
