/*
 * PCI: configuration access and the one-pass bus set-up a legacy-interrupt
 * guest needs. Buses behind bridges get numbers depth-first; every function
 * with an interrupt pin gets the IRQ its INTx reaches through the chipset's
 * PIRQ routing (programmed in chipset.c), so a kernel without ACPI finds it
 * in the interrupt line register. BARs are left to the kernel.
 */
#include "io.h"
#include "mptable.h"
#include "pci.h"
#include "platform.h"
#include "string.h"

#define CF8_ENABLE 0x80000000u
#define HEADER_TYPE_BRIDGE 1
#define HEADER_MULTI_FUNCTION 0x80
#define PCI_MAX_BUS 255

static const u8 pirq_irq[4] = { 10, 10, 11, 11 }; /* matches chipset.c */

static u32 cf8_addr(u16 bdf, u16 off)
{
	return CF8_ENABLE | ((u32)bdf << 8) | (off & 0xfc);
}

u32 pci_cf8_read32(u16 bdf, u8 off)
{
	outl(0xcf8, cf8_addr(bdf, off));
	return inl(0xcfc);
}

void pci_cf8_write32(u16 bdf, u8 off, u32 val)
{
	outl(0xcf8, cf8_addr(bdf, off));
	outl(0xcfc, val);
}

void pci_cf8_write8(u16 bdf, u8 off, u8 val)
{
	outl(0xcf8, cf8_addr(bdf, off));
	outb(0xcfc + (off & 3), val);
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

/*
 * The PIRQ (0-7) a root-bus slot's INTx (0-3) reaches. i440FX rotates by
 * slot - 1; QEMU's ICH9 routes slots 0-24 to PIRQ E-H rotated by slot,
 * slot 30 to E-H and the other chipset slots (25-31) to A-D.
 */
static unsigned root_pirq(unsigned slot, unsigned intx)
{
	if (platform.chipset == CHIPSET_I440FX)
		return (intx + slot - 1) & 3;
	if (slot <= 24)
		return 4 + ((slot + intx) & 3);
	if (slot == 30)
		return 4 + intx;
	return intx;
}

struct bus_walk {
	unsigned next_bus;
};

/* What the MP table needs to know of the wiring found here. */
static struct {
	u32 count;
	u8 max_bus;
	struct mp_pci_irq irq[MP_MAX_PCI_IRQS];
} routes;

static void record_route(unsigned bus, unsigned slot, unsigned intx, unsigned pirq)
{
	/* In APIC mode i440FX PCI interrupts arrive on their ISA IRQ's pin;
	 * ICH9 also drives pins 16-23 from PIRQ A-H directly. */
	u8 pin = platform.chipset == CHIPSET_Q35 ? 16 + pirq : pirq_irq[pirq & 3];

	for (u32 i = 0; i < routes.count; i++)
		if (routes.irq[i].bus == bus && routes.irq[i].slot == slot &&
		    routes.irq[i].intx == intx)
			return; /* functions of one slot share their pins */
	if (routes.count < MP_MAX_PCI_IRQS)
		routes.irq[routes.count++] = (struct mp_pci_irq){ bus, slot, intx, pin };
}

void pci_mp_irqs(struct mp_config *cfg)
{
	if (platform.chipset == CHIPSET_NONE)
		return;
	cfg->pci_buses = routes.max_bus + 1;
	cfg->npci_irqs = routes.count;
	memcpy(cfg->pci_irq, routes.irq, routes.count * sizeof(routes.irq[0]));
	for (unsigned i = 0; i < ARRAY_SIZE(pirq_irq); i++)
		cfg->pci_irq_mask |= 1u << pirq_irq[i];
}

/*
 * Set up one bus. root_slot is the bus-0 slot that the bus hangs from and
 * swizzle the INTx rotation that the bridges below bus 0 add: each turns its
 * devices' pins by their slot number (both unused on bus 0).
 */
static void setup_bus(struct bus_walk *walk, unsigned bus, unsigned root_slot, unsigned swizzle)
{
	for (unsigned slot = 0; slot < 32; slot++) {
		unsigned functions = 1;

		for (unsigned fn = 0; fn < functions; fn++) {
			u16 bdf = PCI_BDF(bus, slot, fn);
			u32 id = pci_read32(bdf, PCI_ID);

			if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
				continue;
			u32 hdr = pci_read32(bdf, PCI_HEADER_TYPE & 0xfc);

			if (fn == 0 && (hdr >> 16) & HEADER_MULTI_FUNCTION)
				functions = 8;

			unsigned rslot = bus ? root_slot : slot;
			unsigned rot = bus ? swizzle + slot : 0;
			u32 irq = pci_read32(bdf, PCI_INTERRUPT_LINE);
			unsigned pin = (irq >> 8) & 0xff;

			if (pin >= 1 && pin <= 4) {
				unsigned pirq = root_pirq(rslot, (pin - 1 + rot) & 3);

				pci_write8(bdf, PCI_INTERRUPT_LINE, pirq_irq[pirq & 3]);
				record_route(bus, slot, pin - 1, pirq);
			}
			if (((hdr >> 16) & 0x7f) != HEADER_TYPE_BRIDGE || walk->next_bus > PCI_MAX_BUS)
				continue;
			/* Open the bridge to every bus above, scan behind it, then close it. */
			unsigned secondary = walk->next_bus++;

			routes.max_bus = (u8)secondary;
			pci_write32(bdf, PCI_PRIMARY_BUS, (PCI_MAX_BUS << 16) | (secondary << 8) | bus);
			setup_bus(walk, secondary, rslot, rot);
			pci_write32(bdf, PCI_PRIMARY_BUS,
				    ((walk->next_bus - 1) << 16) | (secondary << 8) | bus);
		}
	}
}

void pci_setup(void)
{
	struct bus_walk walk = { .next_bus = 1 };

	if (platform.chipset == CHIPSET_NONE)
		return;
	setup_bus(&walk, 0, 0, 0);
}
