/*
 * The machine seam for the host build: the firmware's C files run in a
 * test process, port I/O goes to a tiny model (a UART whose output is kept
 * for the tests to read), and "physical memory" is a buffer the test hands
 * over. A stray access outside it is recorded, never performed.
 */
#include <setjmp.h>
#include <string.h>

#include "io.h"
#include "uart.h"

static u8 *ram;
static u64 ram_size;
static char console[65536];
static size_t console_len;
static u32 stray_accesses;
static jmp_buf *power_off_target;

void harness_set_ram(u8 *buf, u64 size)
{
	ram = buf;
	ram_size = size;
	stray_accesses = 0;
}

const char *harness_console(void)
{
	console[console_len < sizeof(console) ? console_len : sizeof(console) - 1] = 0;
	return console;
}

void harness_reset_console(void)
{
	console_len = 0;
}

u32 harness_stray_accesses(void)
{
	return stray_accesses;
}

u8 inb(u16 port)
{
	return port == COM1 + UART_LSR ? UART_LSR_THRE : 0xff; /* the UART is always ready */
}

u16 inw(u16 port)
{
	(void)port;
	return 0xffff;
}

u32 inl(u16 port)
{
	(void)port;
	return 0xffffffff;
}

void outb(u16 port, u8 val)
{
	if (port == COM1 + UART_THR && console_len < sizeof(console))
		console[console_len++] = (char)val;
}

void outw(u16 port, u16 val)
{
	(void)port;
	(void)val;
}

void outl(u16 port, u32 val)
{
	(void)port;
	(void)val;
}

u32 mmio_read32(u64 addr)
{
	(void)addr;
	return 0xffffffff;
}

void mmio_write32(u64 addr, u32 val)
{
	(void)addr;
	(void)val;
}

void *phys_ptr(u64 addr)
{
	static u8 sink[4096];

	if (ram && addr < ram_size)
		return ram + addr;
	stray_accesses++;
	return sink;
}

/* Run fn(arg); returns 1 if it ended by powering the machine off (fatal). */
int harness_call(void (*fn)(void *), void *arg)
{
	jmp_buf target;

	if (setjmp(target))
		return 1;
	power_off_target = &target;
	fn(arg);
	power_off_target = NULL;
	return 0;
}

void harness_power_off(void)
{
	if (power_off_target)
		longjmp(*power_off_target, 1);
	__builtin_trap(); /* fatal outside harness_call: a test bug */
}

/* The assembly entry points have no host counterpart. */
void shadow_fseg(u32 cf8_addr, u32 data_port)
{
	(void)cf8_addr;
	(void)data_port;
}

void enter_real_mode(u16 seg, u16 sp, u16 cs)
{
	(void)seg;
	(void)sp;
	(void)cs;
	harness_power_off();
	__builtin_unreachable();
}

void enter_flat32(u32 entry, u32 eax, u32 ebx, u32 esi)
{
	(void)entry;
	(void)eax;
	(void)ebx;
	(void)esi;
	harness_power_off();
	__builtin_unreachable();
}

void enter_linux64(u32 entry, u32 boot_params, u32 pml4)
{
	(void)entry;
	(void)boot_params;
	(void)pml4;
	harness_power_off();
	__builtin_unreachable();
}

/* Stand-ins for the real-mode handlers: only their addresses are taken. */
const char int_default[1], int08_handler[1], int10_handler[1], int11_handler[1],
	int12_handler[1], int15_handler[1], int16_handler[1];

/*
 * The layout of every struct the tests mirror with ctypes, as this compiler
 * lays it out: tests/host_firmware/test_fw_layout.py compares each mirror's
 * sizeof and its fields' offsets and sizes with these, so a field changed on one side only
 * fails there instead of corrupting a test's data.
 */
#include "apic.h"
#include "bios.h"
#include "e820.h"
#include "fw_cfg.h"
#include "linux.h"
#include "mptable.h"
#include "mtrr.h"
#include "multiboot.h"
#include "table_loader.h"

struct harness_layout {
	const char *type;
	const char *field; /* NULL: the struct itself */
	u32 offset;
	u32 size;
};

#define SIZE(t) { #t, NULL, 0, sizeof(struct t) }
#define FIELD(t, f) { #t, #f, __builtin_offsetof(struct t, f), sizeof(((struct t *)0)->f) }

static const struct harness_layout layouts[] = {
	SIZE(e820_entry), FIELD(e820_entry, addr), FIELD(e820_entry, size),
	FIELD(e820_entry, type),
	SIZE(e820_map), FIELD(e820_map, count), FIELD(e820_map, entry),
	SIZE(linux_image), FIELD(linux_image, setup_size), FIELD(linux_image, kernel_addr),
	FIELD(linux_image, kernel_size), FIELD(linux_image, cmdline_size),
	FIELD(linux_image, initrd_size), FIELD(linux_image, initrd_addr),
	FIELD(linux_image, qemu_kernel_addr),
	SIZE(setup_header), FIELD(setup_header, setup_sects), FIELD(setup_header, root_flags),
	FIELD(setup_header, syssize), FIELD(setup_header, ram_size),
	FIELD(setup_header, vid_mode), FIELD(setup_header, root_dev),
	FIELD(setup_header, boot_flag), FIELD(setup_header, jump), FIELD(setup_header, header),
	FIELD(setup_header, version), FIELD(setup_header, realmode_swtch),
	FIELD(setup_header, start_sys_seg), FIELD(setup_header, kernel_version),
	FIELD(setup_header, type_of_loader), FIELD(setup_header, loadflags),
	FIELD(setup_header, setup_move_size), FIELD(setup_header, code32_start),
	FIELD(setup_header, ramdisk_image), FIELD(setup_header, ramdisk_size),
	FIELD(setup_header, bootsect_kludge), FIELD(setup_header, heap_end_ptr),
	FIELD(setup_header, ext_loader_ver), FIELD(setup_header, ext_loader_type),
	FIELD(setup_header, cmd_line_ptr), FIELD(setup_header, initrd_addr_max),
	FIELD(setup_header, kernel_alignment), FIELD(setup_header, relocatable_kernel),
	FIELD(setup_header, min_alignment), FIELD(setup_header, xloadflags),
	FIELD(setup_header, cmdline_size), FIELD(setup_header, hardware_subarch),
	FIELD(setup_header, hardware_subarch_data), FIELD(setup_header, payload_offset),
	FIELD(setup_header, payload_length), FIELD(setup_header, setup_data),
	FIELD(setup_header, pref_address), FIELD(setup_header, init_size),
	FIELD(setup_header, handover_offset), FIELD(setup_header, kernel_info_offset),
	SIZE(boot_params), FIELD(boot_params, _pad_0x000), FIELD(boot_params, acpi_rsdp_addr),
	FIELD(boot_params, _pad_0x078), FIELD(boot_params, ext_ramdisk_image),
	FIELD(boot_params, ext_ramdisk_size), FIELD(boot_params, ext_cmd_line_ptr),
	FIELD(boot_params, _pad_0x0cc), FIELD(boot_params, alt_mem_k),
	FIELD(boot_params, _pad_0x1e4), FIELD(boot_params, e820_entries),
	FIELD(boot_params, _pad_0x1e9), FIELD(boot_params, hdr), FIELD(boot_params, _pad_0x26c),
	FIELD(boot_params, e820_table), FIELD(boot_params, _pad_0xcd0),
	SIZE(multiboot_info), FIELD(multiboot_info, flags), FIELD(multiboot_info, mem_lower),
	FIELD(multiboot_info, mem_upper), FIELD(multiboot_info, boot_device),
	FIELD(multiboot_info, cmdline), FIELD(multiboot_info, mods_count),
	FIELD(multiboot_info, mods_addr), FIELD(multiboot_info, syms),
	FIELD(multiboot_info, mmap_length), FIELD(multiboot_info, mmap_addr),
	FIELD(multiboot_info, drives_length), FIELD(multiboot_info, drives_addr),
	FIELD(multiboot_info, config_table), FIELD(multiboot_info, boot_loader_name),
	FIELD(multiboot_info, apm_table), FIELD(multiboot_info, vbe_control_info),
	FIELD(multiboot_info, vbe_mode_info), FIELD(multiboot_info, vbe_mode),
	FIELD(multiboot_info, vbe_interface_seg), FIELD(multiboot_info, vbe_interface_off),
	FIELD(multiboot_info, vbe_interface_len),
	SIZE(bios_memory), FIELD(bios_memory, ext_kb), FIELD(bios_memory, e801_low_kb),
	FIELD(bios_memory, e801_high_64k),
	SIZE(msr_write), FIELD(msr_write, msr), FIELD(msr_write, lo), FIELD(msr_write, hi),
	SIZE(loader_blob), FIELD(loader_blob, name), FIELD(loader_blob, data),
	FIELD(loader_blob, addr), FIELD(loader_blob, size),
	SIZE(table_loader_ops), FIELD(table_loader_ops, ctx), FIELD(table_loader_ops, lookup),
	FIELD(table_loader_ops, alloc), FIELD(table_loader_ops, load),
	FIELD(table_loader_ops, write_pointer),
	SIZE(table_loader), FIELD(table_loader, ops), FIELD(table_loader, blobs),
	FIELD(table_loader, nblobs), FIELD(table_loader, max_blobs),
	FIELD(table_loader, warnings),
	SIZE(fw_cfg_file), FIELD(fw_cfg_file, be_size), FIELD(fw_cfg_file, be_select),
	FIELD(fw_cfg_file, reserved), FIELD(fw_cfg_file, name),
	SIZE(fw_cfg_dir), FIELD(fw_cfg_dir, count), FIELD(fw_cfg_dir, files),
	SIZE(mp_pci_irq), FIELD(mp_pci_irq, bus), FIELD(mp_pci_irq, slot),
	FIELD(mp_pci_irq, intx), FIELD(mp_pci_irq, ioapic_pin),
	SIZE(mp_config), FIELD(mp_config, ncpus), FIELD(mp_config, apic_id),
	FIELD(mp_config, cpu_signature), FIELD(mp_config, cpu_features),
	FIELD(mp_config, ioapic_id), FIELD(mp_config, ioapic_addr), FIELD(mp_config, irq0_pin),
	FIELD(mp_config, pci_irq_mask), FIELD(mp_config, pci_buses),
	FIELD(mp_config, npci_irqs), FIELD(mp_config, pci_irq),
};

const struct harness_layout *harness_layouts(u32 *count)
{
	*count = sizeof(layouts) / sizeof(layouts[0]);
	return layouts;
}

/*
 * The #defines Python reads from the headers (tests/c_header.py), as the
 * compiler sees them: test_fw_constants.py checks the two agree.
 */
struct harness_constant {
	const char *name;
	u32 value;
};

#define CONSTANT(c) { #c, c }

static const struct harness_constant constants[] = {
	CONSTANT(COM1),		  CONSTANT(UART_THR),	     CONSTANT(UART_LSR),
	CONSTANT(UART_LSR_THRE),  CONSTANT(LAPIC_BASE),	     CONSTANT(LAPIC_SVR),
	CONSTANT(LAPIC_ICR_LOW),  CONSTANT(LAPIC_LVT_LINT0), CONSTANT(LAPIC_LVT_LINT1),
	CONSTANT(IOAPIC_BASE),
};

const struct harness_constant *harness_constants(u32 *count)
{
	*count = sizeof(constants) / sizeof(constants[0]);
	return constants;
}
