/* The boot flow, one step per file. */
#include "acpi.h"
#include "e820.h"
#include "fw_cfg.h"
#include "interrupts.h"
#include "linux.h"
#include "mptable.h"
#include "pci_irq.h"
#include "platform.h"
#include "smbios.h"
#include "tables_memory.h"

__noreturn void firmware_main(void);

void firmware_main(void)
{
	u32 rsdp;

	platform_init();
	fw_cfg_init();
	/* QEMU builds its ACPI tables when they are first read: the chipset
	 * state they describe must be final by then. */
	chipset_init();
	interrupts_init();
	e820_init();
	rsdp = acpi_setup();
	smbios_setup();
	mptable_setup(rsdp);
	pir_setup();
	high_zone_commit();
	linux_boot(rsdp);
}
