/*
 * PCI configuration access, for the chipset set-up. The firmware scans no
 * bus: the kernel enumerates PCI, numbers bridges and assigns BARs itself,
 * and pci_irq.c describes the interrupt wiring without looking.
 */
#include "io.h"
#include "pci.h"
#include "platform.h"

u32 pci_cf8_read32(u16 bdf, u8 off)
{
	outl(PCI_CONFIG_ADDR, PCI_CF8_ADDR((u32)bdf, off));
	return inl(PCI_CONFIG_DATA);
}

void pci_cf8_write32(u16 bdf, u8 off, u32 val)
{
	outl(PCI_CONFIG_ADDR, PCI_CF8_ADDR((u32)bdf, off));
	outl(PCI_CONFIG_DATA, val);
}

void pci_cf8_write8(u16 bdf, u8 off, u8 val)
{
	outl(PCI_CONFIG_ADDR, PCI_CF8_ADDR((u32)bdf, off));
	outb(PCI_CF8_DATA(off), val);
}

static u64 ecam_addr(u16 bdf, u16 off)
{
	return platform.mmcfg_base + ((u32)bdf << 12) + off;
}

u32 pci_read32(u16 bdf, u16 off)
{
	if (platform.mmcfg_base)
		return mmio_read32(ecam_addr(bdf, off));
	return pci_cf8_read32(bdf, (u8)off);
}

void pci_write32(u16 bdf, u16 off, u32 val)
{
	if (platform.mmcfg_base)
		mmio_write32(ecam_addr(bdf, off), val);
	else
		pci_cf8_write32(bdf, (u8)off, val);
}

void pci_write8(u16 bdf, u16 off, u8 val)
{
	if (platform.mmcfg_base)
		*(volatile u8 *)phys_ptr(ecam_addr(bdf, off)) = val;
	else
		pci_cf8_write8(bdf, (u8)off, val);
}
