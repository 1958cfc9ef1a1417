/* PCI configuration space and the boot-time bus set-up. */
#ifndef MINIBIOS_PCI_H
#define MINIBIOS_PCI_H

#include "types.h"

#define PCI_BDF(bus, dev, fn) (((bus) << 8) | ((dev) << 3) | (fn))
#define PCI_BUS(bdf) ((bdf) >> 8)
#define PCI_SLOT(bdf) (((bdf) >> 3) & 0x1f)

#define PCI_ID 0x00
#define PCI_HEADER_TYPE 0x0e
#define PCI_PRIMARY_BUS 0x18 /* bridges: primary, secondary, subordinate */
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

/* Port 0xcf8/0xcfc access: always available on pc and q35. */
u32 pci_cf8_read32(u16 bdf, u8 off);
void pci_cf8_write32(u16 bdf, u8 off, u32 val);
void pci_cf8_write8(u16 bdf, u8 off, u8 val);

/* Through MMCONFIG when the platform has it (one access instead of two). */
u32 pci_read32(u16 bdf, u16 off);
void pci_write32(u16 bdf, u16 off, u32 val);
void pci_write8(u16 bdf, u16 off, u8 val);

struct mp_config;

/* Number the buses behind bridges and set every function's interrupt line. */
void pci_setup(void);
/* The buses and PCI interrupt wiring pci_setup found, for the MP table. */
void pci_mp_irqs(struct mp_config *cfg);

#endif
