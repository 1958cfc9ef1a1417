/* The boot flow, one step per file. */
#include "acpi.h"
#include "boot_kernel.h"
#include "debugport.h"
#include "e820.h"
#include "fw_cfg.h"
#include "interrupts.h"
#include "mptable.h"
#include "mtrr.h"
#include "pci_irq.h"
#include "platform.h"
#include "smbios.h"
#include "tables_memory.h"

__noreturn void firmware_main(void);

static bool step_marks;

static void step_done(enum step_mark mark)
{
	if (step_marks)
		milestone(mark);
}

void firmware_main(void)
{
	u32 rsdp, ncpus;

	platform_init();
	fw_cfg_init();
	step_marks = fw_cfg_dir_find(fw_cfg_directory(), STEP_MARKS_FILE) != NULL;
	milestones_init(step_marks);
	step_done(STEP_FW_CFG);
	/* QEMU builds its ACPI tables when they are first read: the chipset
	 * state they describe must be final by then. */
	chipset_init();
	step_done(STEP_CHIPSET);
	interrupts_init();
	step_done(STEP_INTERRUPTS);
	e820_init();
	step_done(STEP_E820);
	rsdp = acpi_setup();
	step_done(STEP_ACPI);
	smbios_setup();
	step_done(STEP_SMBIOS);
	ncpus = mptable_setup(rsdp);
	step_done(STEP_MPTABLE);
	pir_setup();
	step_done(STEP_PIR);
	/* Before the tables at the top of RAM turn reserved: RAM's end bounds
	 * the PCI hole. */
	mtrr_setup(ncpus);
	high_zone_commit();
	step_done(STEP_TABLES_DONE);
	boot_kernel(rsdp);
}
