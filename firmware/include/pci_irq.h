/*
 * PCI interrupt wiring of QEMU's chipsets, described rather than probed:
 * every bus-0 slot's INTA-D reaches a PIRQ link in a fixed pattern and
 * chipset_init (platform.c) routes the links to fixed ISA IRQs, so the
 * tables that tell a kernel about it need no bus scan.
 */
#ifndef MINIBIOS_PCI_IRQ_H
#define MINIBIOS_PCI_IRQ_H

#include "platform.h"
#include "types.h"

/* PIRQ route control: A-D at 0x60 on PIIX3 and ICH9, E-H at 0x68 on ICH9. */
#define PIRQA_ROUT 0x60
#define PIRQE_ROUT 0x68
/* PIRQ A..D -> IRQ 10, 10, 11, 11 (E..H repeat it on ICH9), one byte each. */
#define PIRQ_ROUTING 0x0b0b0a0a
/* The routers: PIIX3's ISA bridge (pc) and ICH9's LPC bridge (q35). */
#define PIIX3_ISA_DEVFN 0x08
#define PIIX3_ISA_ID 0x7000
#define ICH9_LPC_DEVFN 0xf8
#define ICH9_LPC_ID 0x2918
#define PCI_VENDOR_INTEL 0x8086

/* The PIRQ link (0-7 for A-H) that a bus-0 slot's INTx (0-3) drives. */
unsigned pci_slot_pirq(enum chipset chipset, unsigned slot, unsigned intx);
/* The ISA IRQ a PIRQ link is routed to. */
u8 pci_pirq_irq(unsigned pirq);

/*
 * Build a PCI IRQ routing table ($PIR) listing every bus-0 slot into buf.
 * Returns the bytes used, 0 if room is too small or there is no PCI.
 * Pure: host-tested.
 */
u32 pir_build(u8 *buf, u32 room, enum chipset chipset);
/* Put the $PIR table in the F segment, where kernels without ACPI look. */
void pir_setup(void);

struct mp_config;
/* Every bus-0 slot's INTA-D as it reaches the I/O APIC, for the MP table. */
void pci_mp_irqs(struct mp_config *cfg);

#endif
