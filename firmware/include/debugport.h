/*
 * Boot milestones, one byte written to I/O port 0xf4 (the convention of the
 * qemu-boot-time tooling), only when asked for: fw_cfg has the file
 * MILESTONES_FILE (or STEP_MARKS_FILE). kvm-unit-tests and others put
 * `isa-debug-exit,iobase=0xf4` there, which a write ends the VM on, so by
 * default the firmware writes nothing to a port it has not found a device on.
 * `-device isa-debugcon,iobase=0xf4,chardev=…` makes the marks visible, and
 * QEMU's memory_region_ops_write trace timestamps them.
 */
#ifndef MINIBIOS_DEBUGPORT_H
#define MINIBIOS_DEBUGPORT_H


#define DEBUG_PORT 0xf4
#define MILESTONE_FIRMWARE_START 1 /* fw_cfg found (right after the shadow copy) */
/* The kernel's way in chosen, its fw_cfg transfers start (linux_boot.c:
 * command line, kernel, initrd; multiboot.c: the image; pvh.c: command line
 * and initrd, QEMU having loaded the kernel). */
#define MILESTONE_LOAD_KERNEL 2
#define MILESTONE_KERNEL_ENTRY 3    /* jump into a Linux (16/32/64-bit) or multiboot kernel */
#define MILESTONE_PVH_ENTRY 4       /* jump into a PVH kernel */
#define MILESTONES_FILE "opt/minibios/milestones"
/*
 * The end of each firmware step too, written only when fw_cfg has the file
 * STEP_MARKS_FILE (`minibios bench` adds it to time every step).
 */
#define STEP_MARKS_FILE "opt/minibios/step-marks"

#ifndef __ASSEMBLER__
#include "io.h"
enum step_mark {
	STEP_FW_CFG = 0x10, /* shadow copy, chipset found, fw_cfg ready */
	STEP_CHIPSET,
	STEP_INTERRUPTS,
	STEP_E820,
	STEP_ACPI,
	STEP_SMBIOS,
	STEP_MPTABLE,
	STEP_PIR,
	STEP_TABLES_DONE,
};

extern bool milestones_on;

/* Turn the marks on if fw_cfg asks (or force is set), then mark the start. */
void milestones_init(bool force);

static inline void milestone(u8 m)
{
	if (milestones_on)
		outb(DEBUG_PORT, m);
}
#endif

#endif
