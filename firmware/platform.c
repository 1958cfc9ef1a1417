/*
 * The machine (platform.h): which QEMU chipset this is, the ROM shadowed
 * into writable RAM, and the chipset set-up for pc (i440FX + PIIX3/PIIX4)
 * and q35 (MCH + ICH9). microvm has no PCI host bridge: nothing to set up.
 */
#include "console.h"
#include "io.h"
#include "layout.h"
#include "pci.h"
#include "pci_irq.h"
#include "platform.h"
#include "poweroff.h"

#define ID_I440FX 0x12378086
#define ID_Q35_MCH 0x29c08086

/* PAM: the register for 0xf0000-0xfffff and the value for read/write RAM. */
#define I440FX_PAM0 0x59
#define Q35_PAM0 0x90
#define PAM_FSEG_RAM 0x30

#define PM_BASE 0x600 /* where QEMU's own ACPI tables expect PM1 */
#define PIIX4_PM PCI_BDF(0, 1, 3)
#define PIIX4_PMBA 0x40
#define PIIX4_PMREGMISC 0x80
#define PIIX4_PMIOSE 0x01 /* PM I/O space enable */
#define PIIX3_ISA PCI_BDF(0, 1, 0)
#define ICH9_LPC PCI_BDF(0, 0x1f, 0)
#define ICH9_PMBASE 0x40
#define ICH9_ACPI_CNTL 0x44
#define ICH9_ACPI_EN 0x80
#define Q35_PCIEXBAR 0x60
#define Q35_MMCFG_BASE 0xb0000000 /* QEMU's default, 256 buses */

/* The keyboard controller: translation to scan code set 1 on, as every PC
 * BIOS leaves it (software that reads port 0x60 itself expects set 1). */
#define KBC_DATA 0x60
#define KBC_CMD 0x64
#define KBC_WRITE_CONFIG 0x60
#define KBC_CONFIG 0x47 /* translate, POST passed, keyboard and mouse IRQs */

#define ELCR1 0x4d0
#define ELCR2 0x4d1
#define ELCR2_LEVEL ((1 << (9 - 8)) | (1 << (10 - 8)) | (1 << (11 - 8))) /* SCI, PCI */

struct platform platform;
/*
 * Set once the writable copy of the firmware runs; it reads 0 from the ROM.
 * Found set, the firmware was entered again: by a jump to the reset vector
 * (Linux's BIOS restart), or after a reset on pc/q35, where QEMU leaves the
 * PAM registers and so this copy as they were. microvm has a fresh copy
 * after every reset (QEMU rewrites its RAM BIOS image).
 */
static volatile u32 copy_ran;
#define COPY_RAN_MAGIC 0x4d424f53

/* Lives in reset.S; runs from the high ROM alias while 0xf0000 turns into RAM. */
void shadow_fseg(u32 cf8_addr, u32 data_port, u32 pam_value);

static void shadow_rom(u8 pam_reg)
{
	void (*from_high_alias)(u32, u32, u32) =
		(void *)((uptr)shadow_fseg - ROM_BASE + ROM_HIGH_ALIAS);

	from_high_alias(PCI_CF8_ADDR(PCI_BDF(0, 0, 0), pam_reg), PCI_CF8_DATA(pam_reg),
			PAM_FSEG_RAM);
}

/*
 * Entered again with the chipset as the last boot left it? A reset turns off
 * the PM I/O space this firmware enabled (PIIX4 PMREGMISC, ICH9 ACPI_CNTL),
 * which no OS turns off. `platform` is still the last boot's here.
 */
static bool entered_without_reset(void)
{
	if (copy_ran != COPY_RAN_MAGIC)
		return false; /* the usual case: no port access spent */
	switch (platform.chipset) {
	case CHIPSET_I440FX:
		return pci_cf8_read32(PIIX4_PM, PIIX4_PMREGMISC) & PIIX4_PMIOSE;
	case CHIPSET_Q35:
		return pci_cf8_read32(ICH9_LPC, ICH9_ACPI_CNTL) & ICH9_ACPI_EN;
	case CHIPSET_NONE:
		break;
	}
	return true;
}

void platform_init(void)
{
	u32 id;
	enum chipset chipset = CHIPSET_NONE;

	/* Booting on would skip the reset of every device (Linux's BIOS restart
	 * jumps to F000:FFF0): let QEMU reset the machine, as its policy says. */
	if (entered_without_reset())
		machine_reset();
	/* Until the shadow copy, 0xf0000 is ROM: nothing here may write .data. */
	id = pci_cf8_read32(PCI_BDF(0, 0, 0), PCI_ID);
	if (id == ID_I440FX) {
		chipset = CHIPSET_I440FX;
		shadow_rom(I440FX_PAM0);
	} else if (id == ID_Q35_MCH) {
		chipset = CHIPSET_Q35;
		shadow_rom(Q35_PAM0);
	}
	/* microvm maps the BIOS as RAM already; check that it really is. */
	copy_ran = COPY_RAN_MAGIC;
	if (copy_ran != COPY_RAN_MAGIC)
		fatal("the ROM at 0xf0000 is not writable (host bridge %x)", id);
	platform.chipset = chipset;
}

/* SCI and PCI interrupts are level-triggered (interrupts.c masks the 8259s). */
static void elcr_init(void)
{
	outb(ELCR1, 0);
	outb(ELCR2, ELCR2_LEVEL);
}

static void i440fx_init(void)
{
	pci_cf8_write32(PIIX4_PM, PIIX4_PMBA, PM_BASE | 1);
	pci_cf8_write8(PIIX4_PM, PIIX4_PMREGMISC, PIIX4_PMIOSE);
	pci_cf8_write32(PIIX3_ISA, PIRQA_ROUT, PIRQ_ROUTING);
	platform.pm_base = PM_BASE;
}

static void q35_init(void)
{
	pci_cf8_write32(PCI_BDF(0, 0, 0), Q35_PCIEXBAR + 4, 0);
	pci_cf8_write32(PCI_BDF(0, 0, 0), Q35_PCIEXBAR, Q35_MMCFG_BASE | 1);
	platform.mmcfg_base = Q35_MMCFG_BASE;
	pci_write32(ICH9_LPC, ICH9_PMBASE, PM_BASE | 1);
	pci_write8(ICH9_LPC, ICH9_ACPI_CNTL, ICH9_ACPI_EN);
	pci_write32(ICH9_LPC, PIRQA_ROUT, PIRQ_ROUTING);
	pci_write32(ICH9_LPC, PIRQE_ROUT, PIRQ_ROUTING);
	platform.pm_base = PM_BASE;
}

void chipset_init(void)
{
	switch (platform.chipset) {
	case CHIPSET_I440FX:
		i440fx_init();
		break;
	case CHIPSET_Q35:
		q35_init();
		break;
	case CHIPSET_NONE:
		return; /* microvm: no ELCR, no keyboard controller */
	}
	elcr_init();
	/* QEMU's controller takes a command at once: no status polling. */
	outb(KBC_CMD, KBC_WRITE_CONFIG);
	outb(KBC_DATA, KBC_CONFIG);
}
