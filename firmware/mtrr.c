/*
 * MTRRs, as a BIOS leaves them: without them Linux finds MTRRs disabled and
 * runs without PAT (no write-combining). Every CPU gets the same values,
 * else Linux reports inconsistent MTRRs and fixes the APs itself: the BSP
 * writes its own, then starts the APs (INIT, SIPI) at ap.S, which write the
 * same list and halt until the OS starts them.
 */
#include "apic.h"
#include "console.h"
#include "e820.h"
#include "io.h"
#include "layout.h"
#include "mtrr.h"

#define CPUID_MTRR (1 << 12)
#define MSR_MTRRCAP 0xfe
#define MTRRCAP_VCNT 0xff
#define MTRRCAP_FIX (1 << 8)
#define MSR_MTRR_PHYSBASE(n) (0x200 + 2 * (n))
#define MSR_MTRR_PHYSMASK(n) (0x201 + 2 * (n))
#define MTRR_PHYSMASK_VALID (1 << 11)
#define MSR_MTRR_FIX64K_00000 0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000 0x268 /* ... to 0x26f, F8000 */
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_DEF_ENABLE (1 << 11)
#define MTRR_DEF_FIXED_ENABLE (1 << 10)
#define MTRR_UC 0
#define MTRR_WP 5
#define MTRR_WB 6
#define EIGHT_OF(type) (0x0101010101010101ull * (type))
#define FOUR_GIB (4 * GiB)
#define DEFAULT_PHYS_BITS 36

#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600
#define AP_WAIT_SPINS 100000000u

/* Read by ap.S through %cs (the F segment): what every AP writes. */
struct msr_write ap_msrs[MTRR_MAX_WRITES];
u32 ap_msr_count;
volatile u32 ap_done;

static void put(struct msr_write *w, u32 msr, u64 val)
{
	*w = (struct msr_write){ msr, (u32)val, (u32)(val >> 32) };
}

u32 mtrr_plan(u64 hole, u32 phys_bits, u32 vcnt, struct msr_write *out)
{
	u64 addr_mask = (phys_bits >= 64 ? ~0ull : (1ull << phys_bits) - 1) & ~0xfffull;
	u64 size = hole < FOUR_GIB ? FOUR_GIB - ALIGN_UP(hole, 4096ull) : 0;
	u32 ranges = MIN(vcnt, (u32)MTRR_HOLE_RANGES), n = 0, used = 0;
	u64 top = FOUR_GIB;

	put(&out[n++], MSR_MTRR_DEF_TYPE, 0); /* off while they change */
	put(&out[n++], MSR_MTRR_FIX64K_00000, EIGHT_OF(MTRR_WB));
	put(&out[n++], MSR_MTRR_FIX16K_80000, EIGHT_OF(MTRR_WB));
	put(&out[n++], MSR_MTRR_FIX16K_A0000, EIGHT_OF(MTRR_UC)); /* VGA */
	for (u32 i = 0; i < 8; i++) /* option ROMs and this firmware */
		put(&out[n++], MSR_MTRR_FIX4K_C0000 + i, EIGHT_OF(MTRR_WP));
	/* [4 GiB - size, 4 GiB) from the top down, largest first: each range
	 * then starts at a multiple of its size. */
	for (u32 bit = 31; bit >= 12 && used < ranges; bit--) {
		u64 len = 1ull << bit;

		if (!(size & len))
			continue;
		top -= len;
		put(&out[n++], MSR_MTRR_PHYSBASE(used), top | MTRR_UC);
		put(&out[n++], MSR_MTRR_PHYSMASK(used), (~(len - 1) & addr_mask) | MTRR_PHYSMASK_VALID);
		used++;
	}
	for (; used < MIN(vcnt, (u32)MTRR_HOLE_RANGES); used++) { /* clear what we do not use */
		put(&out[n++], MSR_MTRR_PHYSBASE(used), 0);
		put(&out[n++], MSR_MTRR_PHYSMASK(used), 0);
	}
	put(&out[n++], MSR_MTRR_DEF_TYPE, MTRR_DEF_ENABLE | MTRR_DEF_FIXED_ENABLE | MTRR_WB);
	return n;
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (u64)hi << 32;
}

static void wrmsr(u32 msr, u32 lo, u32 hi)
{
	asm volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(hi) : "memory");
}

static u32 phys_bits(void)
{
	u32 a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000008)
		return DEFAULT_PHYS_BITS;
	cpuid(0x80000008, &a, &b, &c, &d);
	/* Fewer than 32 bits cannot be: a mask that short would cover all. */
	return (a & 0xff) >= 32 ? (a & 0xff) : DEFAULT_PHYS_BITS;
}

/* Where RAM below 4 GiB ends in QEMU's map: the PCI hole starts above. */
static u64 low_ram_end(void)
{
	u64 end = 0;

	for (u32 i = 0; i < e820.count; i++) {
		const struct e820_entry *e = &e820.entry[i];

		if (e->type == E820_RAM && e->addr < FOUR_GIB)
			end = MAX(end, MIN(e->addr + e->size, FOUR_GIB));
	}
	return end;
}

static void start_aps(u32 ncpus)
{
	u32 spins = 0;

	/* ap.S sits at the start of the F segment: SIPI vector 0xf0. */
	mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, ICR_INIT_ALL_BUT_SELF);
	mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, ICR_SIPI_ALL_BUT_SELF | (ROM_BASE >> 12));
	while (ap_done < ncpus - 1) {
		if (++spins == AP_WAIT_SPINS) {
			warn("MTRRs: %u of %u APs answered", ap_done, ncpus - 1);
			return;
		}
		asm volatile("pause");
	}
}

void mtrr_setup(u32 ncpus)
{
	u32 a, b, c, d;
	u64 cap;

	cpuid(1, &a, &b, &c, &d);
	if (!(d & CPUID_MTRR))
		return;
	cap = rdmsr(MSR_MTRRCAP);
	if (!(cap & MTRRCAP_FIX))
		return;
	ap_msr_count = mtrr_plan(low_ram_end(), phys_bits(), cap & MTRRCAP_VCNT, ap_msrs);
	for (u32 i = 0; i < ap_msr_count; i++)
		wrmsr(ap_msrs[i].msr, ap_msrs[i].lo, ap_msrs[i].hi);
	if (ncpus > 1)
		start_aps(ncpus);
}
