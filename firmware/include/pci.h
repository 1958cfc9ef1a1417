/*
 * PCI configuration space access. The port encoding is here once, for the
 * C and for reset.S (which writes the PAM register while the ROM turns into
 * RAM under it).
 */
#ifndef MINIBIOS_PCI_H
#define MINIBIOS_PCI_H

/* Configuration mechanism #1: an address at 0xcf8, then the data at 0xcfc. */
#define PCI_CONFIG_ADDR 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000
/* The dword holding register off of device bdf... */
#define PCI_CF8_ADDR(bdf, off) (PCI_CONFIG_ENABLE | ((bdf) << 8) | ((off) & 0xfc))
/* ...and the data port of its byte off within that dword. */
#define PCI_CF8_DATA(off) (PCI_CONFIG_DATA + ((off) & 3))

#define PCI_BDF(bus, dev, fn) (((bus) << 8) | ((dev) << 3) | (fn))

#ifndef __ASSEMBLER__
#include "types.h"

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

#endif
