/*
 * Real-mode state every kernel finds, whatever way it was entered: every
 * interrupt vector points into the ROM's 16-bit handlers, the BIOS data area
 * says where COM1, the EBDA and the end of conventional memory are, and
 * int 15h knows the memory map. Linux's 16-bit setup code calls these;
 * multiboot kernels such as Xen and kvm-unit-tests read the BDA and make
 * their own real-mode BIOS calls from a trampoline.
 */
#include "bios.h"
#include "e820.h"
#include "interrupts.h"
#include "io.h"
#include "layout.h"
#include "platform.h"
#include "string.h"
#include "uart.h"

#define EQUIPMENT_ONE_SERIAL (1 << 9)
#define EBDA_SIZE (LOW_RAM_END - EBDA_BASE)

struct bios_memory bios_memory;

/* The handlers, in bios16.S (linked in the F segment). */
extern const char int_default[], int08_handler[], int10_handler[], int11_handler[],
	int12_handler[], int15_handler[], int16_handler[];

static u32 far_ptr(const void *handler)
{
	return (ROM_BASE >> 4) << 16 | (u16)((uptr)handler - ROM_BASE);
}

struct bios_memory bios_memory_from(u64 ext_end)
{
	u64 ext = ext_end > 1 * MiB ? MIN(ext_end, 4 * GiB) - 1 * MiB : 0;
	u64 above_16m = ext > 15 * MiB ? ext - 15 * MiB : 0;

	return (struct bios_memory){
		.ext_kb = (u16)MIN(ext >> 10, 0xffffu),
		.e801_low_kb = (u16)(MIN(ext, 15 * MiB) >> 10),
		.e801_high_64k = (u16)MIN(above_16m >> 16, 0xffffu),
	};
}

void bios_init(void)
{
	u32 *ivt = phys_ptr(0);
	struct bios_data_area *bda = phys_ptr(BDA_BASE);
	u8 *ebda = phys_ptr(EBDA_BASE);
	static const struct {
		u8 vector;
		const char *handler;
	} services[] = {
		{ 0x08, int08_handler }, { 0x10, int10_handler }, { 0x11, int11_handler },
		{ 0x12, int12_handler },
		{ 0x15, int15_handler }, { 0x16, int16_handler },
	};

	for (unsigned v = 0; v < 256; v++)
		ivt[v] = far_ptr(int_default);
	for (unsigned i = 0; i < ARRAY_SIZE(services); i++)
		ivt[services[i].vector] = far_ptr(services[i].handler);

	memset(bda, 0, sizeof(*bda));
	bda->com_port[0] = COM1;
	bda->ebda_seg = EBDA_BASE >> 4;
	bda->equipment = EQUIPMENT_ONE_SERIAL;
	bda->base_mem_kb = BASE_MEM_KB;
	/* An empty EBDA: its first byte is its size in KiB. Nothing in it to scan. */
	memset(ebda, 0, EBDA_SIZE);
	ebda[0] = EBDA_SIZE >> 10;

	bios_memory = bios_memory_from(e820_ram_end(&e820, 1 * MiB));
}

void bios_timer_start(void)
{
	if (platform.chipset != CHIPSET_NONE)
		interrupts_bios_mode();
}
