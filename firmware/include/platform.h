/* Which QEMU machine we are on, and the chipset resources we configured. */
#ifndef MINIBIOS_PLATFORM_H
#define MINIBIOS_PLATFORM_H

#include "types.h"

enum chipset {
	CHIPSET_NONE,   /* microvm: no PCI host bridge */
	CHIPSET_I440FX, /* pc */
	CHIPSET_Q35,    /* q35 */
};

struct platform {
	enum chipset chipset;
	u16 pm_base;    /* ACPI power-management I/O base, 0 when none */
	u32 mmcfg_base; /* PCI Express MMCONFIG (ECAM) base, 0 when none */
};

#define MMCFG_SIZE (256 * MiB) /* 256 buses of 1 MiB */

/* The one machine this firmware runs on; valid once platform_init returned. */
extern struct platform platform;

/*
 * Identify the chipset and shadow the ROM into writable RAM; entered again
 * without a reset (Linux's BIOS restart), ask QEMU for one instead.
 */
void platform_init(void);
/* Power management, MMCONFIG, interrupt routing and trigger modes. */
void chipset_init(void);

#endif
