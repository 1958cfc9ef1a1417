/* The boot flow, one step per file. */
#include "bios.h"
#include "e820.h"
#include "fw_cfg.h"
#include "linux.h"
#include "pci.h"
#include "platform.h"

__noreturn void firmware_main(void);

void firmware_main(void)
{
	platform_init();
	fw_cfg_init();
	chipset_init();
	pci_setup();
	e820_init();
	bios_init();
	linux_boot();
}
