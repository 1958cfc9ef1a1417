/* PCI configuration space access. */
#ifndef MINIBIOS_PCI_H
#define MINIBIOS_PCI_H

#include "types.h"

#define PCI_BDF(bus, dev, fn) (((bus) << 8) | ((dev) << 3) | (fn))

#define PCI_ID 0x00

/* Port 0xcf8/0xcfc access: always available on pc and q35. */
u32 pci_cf8_read32(u16 bdf, u8 off);
void pci_cf8_write32(u16 bdf, u8 off, u32 val);
void pci_cf8_write8(u16 bdf, u8 off, u8 val);

/* Through MMCONFIG when the platform has it (one access instead of two). */
u32 pci_read32(u16 bdf, u16 off);
void pci_write32(u16 bdf, u16 off, u32 val);
void pci_write8(u16 bdf, u16 off, u8 val);

#endif
