/*
 * The PCI interrupt routing tables: MP-table entries for every bus-0 slot
 * and a $PIR table for a kernel with neither ACPI nor an I/O APIC. The
 * kernel enumerates PCI itself (it always does), numbers the buses behind
 * bridges, and swizzles a bridged device's pin onto the bridge's slot, which
 * these tables list. ACPI kernels use QEMU's _PRT, which says the same.
 */
#include "console.h"
#include "checksum.h"
#include "mptable.h"
#include "pci_irq.h"
#include "signature.h"
#include "string.h"
#include "tables_memory.h"

#define PCI_SLOTS 32
#define PIR_VERSION 0x0100

struct pir_link {
	u8 link;    /* the router's route-control register for this PIRQ */
	u16 bitmap; /* the ISA IRQs the link can take: just the one it has */
} __packed;

struct pir_slot {
	u8 bus;
	u8 devfn;
	struct pir_link intx[4];
	u8 slot; /* 0: built in, not a physical slot */
	u8 reserved;
} __packed;

struct pir_header {
	char signature[4];
	u16 version;
	u16 size;
	u8 router_bus;
	u8 router_devfn;
	u16 exclusive_irqs;
	u16 router_vendor;
	u16 router_device;
	u32 miniport_data;
	u8 reserved[11];
	u8 checksum;
} __packed;

_Static_assert(sizeof(struct pir_link) == 3, "$PIR link");
_Static_assert(sizeof(struct pir_slot) == 16, "$PIR slot entry");
_Static_assert(sizeof(struct pir_header) == 32, "$PIR header");

/*
 * i440FX rotates by slot - 1; QEMU's ICH9 routes slots 0-24 to PIRQ E-H
 * rotated by slot, slot 30 to E-H and the other chipset slots (25-31) to A-D.
 */
unsigned pci_slot_pirq(enum chipset chipset, unsigned slot, unsigned intx)
{
	if (chipset == CHIPSET_I440FX)
		return (intx + slot - 1) & 3;
	if (slot <= 24)
		return 4 + ((slot + intx) & 3);
	if (slot == 30)
		return 4 + intx;
	return intx;
}

u8 pci_pirq_irq(unsigned pirq)
{
	return (u8)(PIRQ_ROUTING >> (8 * (pirq & 3)));
}

#define PIR_SIZE (sizeof(struct pir_header) + PCI_SLOTS * sizeof(struct pir_slot))

u32 pir_build(u8 *buf, u32 room, enum chipset chipset)
{
	struct pir_header *hdr = (void *)buf;
	struct pir_slot *slots = (void *)(hdr + 1);
	u32 size = PIR_SIZE;
	int q35 = chipset == CHIPSET_Q35;

	if (chipset == CHIPSET_NONE || room < size)
		return 0;
	memset(buf, 0, size);
	sig_put(hdr->signature, SIG_PIR);
	hdr->version = PIR_VERSION;
	hdr->size = (u16)size;
	hdr->router_devfn = q35 ? ICH9_LPC_DEVFN : PIIX3_ISA_DEVFN;
	hdr->router_vendor = PCI_VENDOR_INTEL;
	hdr->router_device = q35 ? ICH9_LPC_ID : PIIX3_ISA_ID;
	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		slots[slot].devfn = (u8)(slot << 3);
		for (unsigned intx = 0; intx < 4; intx++) {
			unsigned pirq = pci_slot_pirq(chipset, slot, intx);

			/* A single bit: a kernel that does not know the router
			 * takes that IRQ as given. */
			slots[slot].intx[intx] = (struct pir_link){
				(u8)(pirq < 4 ? PIRQA_ROUT + pirq : PIRQE_ROUT + pirq - 4),
				(u16)(1u << pci_pirq_irq(pirq)),
			};
		}
	}
	hdr->checksum = (u8)-checksum8(buf, size);
	return size;
}

void pir_setup(void)
{
	u8 *buf;

	if (platform.chipset == CHIPSET_NONE)
		return;
	buf = fseg_alloc(PIR_SIZE, 16);
	if (!buf || !pir_build(buf, PIR_SIZE, platform.chipset))
		warn("PCI IRQ routing table: no room in the F segment");
}

void pci_mp_irqs(struct mp_config *cfg)
{
	if (platform.chipset == CHIPSET_NONE)
		return;
	cfg->pci_buses = 1;
	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		for (unsigned intx = 0; intx < 4; intx++) {
			unsigned pirq = pci_slot_pirq(platform.chipset, slot, intx);
			/* In APIC mode i440FX PCI interrupts arrive on their ISA
			 * IRQ's pin; ICH9 drives pins 16-23 from PIRQ A-H. */
			u8 pin = platform.chipset == CHIPSET_Q35 ? (u8)(16 + pirq)
								  : pci_pirq_irq(pirq);

			cfg->pci_irq[cfg->npci_irqs++] =
				(struct mp_pci_irq){ 0, (u8)slot, (u8)intx, pin };
		}
	}
	for (unsigned pirq = 0; pirq < 4; pirq++)
		cfg->pci_irq_mask |= (u16)(1u << pci_pirq_irq(pirq));
}
