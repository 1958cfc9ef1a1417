/*
 * The MP table: CPUs, buses, the I/O APIC and the interrupt wiring, for a
 * kernel that boots without ACPI. The facts come from QEMU's MADT where it
 * built one (APIC IDs, the I/O APIC, IRQ 0's override) and from the PCI
 * set-up; the table goes in the F segment where the spec's scan looks.
 */
#include "acpi.h"
#include "checksum.h"
#include "console.h"
#include "fw_cfg.h"
#include "mptable.h"
#include "pci_irq.h"
#include "platform.h"
#include "signature.h"
#include "string.h"
#include "tables_memory.h"

#define MP_SPEC_REV 4
#define LAPIC_ADDR 0xfee00000
#define LAPIC_VERSION 0x14 /* what QEMU's local APIC reports */
#define IOAPIC_VERSION 0x11
#define IOAPIC_ADDR 0xfec00000

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };
enum { INT_INT, INT_NMI, INT_SMI, INT_EXTINT };
#define CPU_ENABLED 1
#define CPU_BSP 2
#define IRQ_ACTIVE_LOW_LEVEL 0x0f /* polarity 11b, trigger 11b */

struct mp_floating {
	char signature[4];
	u32 config;
	u8 length; /* in 16-byte units */
	u8 revision;
	u8 checksum;
	u8 feature[5];
} __packed;

struct mp_config_header {
	char signature[4];
	u16 length;
	u8 revision;
	u8 checksum;
	char oem[8];
	char product[12];
	u32 oem_table;
	u16 oem_table_size;
	u16 entries;
	u32 lapic;
	u16 ext_length;
	u8 ext_checksum;
	u8 reserved;
} __packed;

struct mp_processor {
	u8 type, apic_id, apic_version, flags;
	u32 signature, features, reserved[2];
} __packed;

struct mp_bus {
	u8 type, id;
	char name[6];
} __packed;

struct mp_ioapic {
	u8 type, id, version, flags;
	u32 addr;
} __packed;

struct mp_intr {
	u8 type, irq_type;
	u16 flags;
	u8 src_bus, src_irq, dst_apic, dst_pin;
} __packed;

struct builder {
	u8 *buf;
	u32 room, used;
	u16 entries;
};

static void *emit(struct builder *b, u32 size)
{
	void *p;

	if (size > b->room - b->used) {
		b->room = 0; /* remember the overflow; every later emit fails too */
		b->used = 0;
		return NULL;
	}
	p = b->buf + b->used;
	b->used += size;
	b->entries++;
	return p;
}

static void emit_intr(struct builder *b, u8 type, u8 irq_type, u16 flags, u8 src_bus,
		      u8 src_irq, u8 dst_apic, u8 dst_pin)
{
	struct mp_intr *e = emit(b, sizeof(*e));

	if (e)
		*e = (struct mp_intr){ type, irq_type, flags, src_bus, src_irq, dst_apic, dst_pin };
}

u32 mptable_build(u8 *buf, u32 room, u32 addr, const struct mp_config *cfg)
{
	struct builder b = { .buf = buf, .room = room };
	struct mp_floating *fp = emit(&b, sizeof(*fp));
	struct mp_config_header *hdr = emit(&b, sizeof(*hdr));
	u8 isa_bus = cfg->pci_buses;

	if (!fp || !hdr || cfg->ncpus > MP_MAX_CPUS || cfg->npci_irqs > MP_MAX_PCI_IRQS)
		return 0;
	memset(buf, 0, b.used);
	b.entries = 0;
	for (u32 i = 0; i < cfg->ncpus; i++) {
		struct mp_processor *p = emit(&b, sizeof(*p));

		if (p)
			*p = (struct mp_processor){
				.type = MP_PROCESSOR,
				.apic_id = cfg->apic_id[i],
				.apic_version = LAPIC_VERSION,
				.flags = CPU_ENABLED | (i == 0 ? CPU_BSP : 0),
				.signature = cfg->cpu_signature,
				.features = cfg->cpu_features,
			};
	}
	for (u32 bus = 0; bus < cfg->pci_buses; bus++) {
		struct mp_bus *e = emit(&b, sizeof(*e));

		if (e)
			*e = (struct mp_bus){ MP_BUS, (u8)bus, "PCI   " };
	}
	{
		struct mp_bus *e = emit(&b, sizeof(*e));
		struct mp_ioapic *io = emit(&b, sizeof(*io));

		if (e)
			*e = (struct mp_bus){ MP_BUS, isa_bus, "ISA   " };
		if (io)
			*io = (struct mp_ioapic){ MP_IOAPIC, cfg->ioapic_id, IOAPIC_VERSION, 1,
						  cfg->ioapic_addr };
	}
	/* The 8259 behind pin 0, then ISA IRQs on their pins (IRQ 0 overridden). */
	emit_intr(&b, MP_IOINTR, INT_EXTINT, 0, isa_bus, 0, cfg->ioapic_id, 0);
	for (u8 irq = 0; irq < 16; irq++) {
		if (irq == 2 || (cfg->pci_irq_mask & (1u << irq)))
			continue;
		emit_intr(&b, MP_IOINTR, INT_INT, 0, isa_bus, irq, cfg->ioapic_id,
			  irq == 0 ? cfg->irq0_pin : irq);
	}
	for (u32 i = 0; i < cfg->npci_irqs; i++) {
		const struct mp_pci_irq *r = &cfg->pci_irq[i];

		emit_intr(&b, MP_IOINTR, INT_INT, IRQ_ACTIVE_LOW_LEVEL, r->bus,
			  (u8)(r->slot << 2 | r->intx), cfg->ioapic_id, r->ioapic_pin);
	}
	/* Local interrupts: the 8259 on LINT0, NMI on LINT1, of every CPU. */
	emit_intr(&b, MP_LINTR, INT_EXTINT, 0, isa_bus, 0, 0xff, 0);
	emit_intr(&b, MP_LINTR, INT_NMI, 0, isa_bus, 0, 0xff, 1);
	if (!b.room || b.used - sizeof(*fp) > 0xffff)
		return 0;

	*hdr = (struct mp_config_header){
		.signature = "PCMP",
		.length = (u16)(b.used - sizeof(*fp)),
		.revision = MP_SPEC_REV,
		.oem = "MINIBIOS",
		.product = "QEMU        ",
		.entries = b.entries,
		.lapic = LAPIC_ADDR,
	};
	hdr->checksum = (u8)-checksum8(hdr, hdr->length);
	*fp = (struct mp_floating){
		.config = addr + sizeof(*fp),
		.length = 1,
		.revision = MP_SPEC_REV,
	};
	sig_put(fp->signature, SIG_MP);
	fp->checksum = (u8)-checksum8(fp, sizeof(*fp));
	return b.used;
}

/* MADT entries: local APICs, the I/O APIC and interrupt source overrides. */
static void from_madt(struct mp_config *cfg, const u8 *madt)
{
	u32 len;

	memcpy(&len, madt + 4, 4);
	for (u32 off = 44; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1]) {
		const u8 *e = madt + off;

		if (e[0] == 0 && e[1] >= 8 && (e[4] & 1) && cfg->ncpus < MP_MAX_CPUS)
			cfg->apic_id[cfg->ncpus++] = e[3];
		else if (e[0] == 1 && e[1] >= 12) {
			cfg->ioapic_id = e[2];
			memcpy(&cfg->ioapic_addr, e + 4, 4);
		} else if (e[0] == 2 && e[1] >= 10 && e[2] == 0 && e[3] == 0)
			cfg->irq0_pin = e[4]; /* GSI of ISA IRQ 0; QEMU's I/O APIC starts at 0 */
	}
}

u32 mptable_setup(u32 rsdp)
{
	static struct mp_config cfg; /* too big for the stack */
	const u8 *madt = acpi_find_table(rsdp, "APIC");
	u32 eax = 1, ebx, ecx = 0, edx;
	u32 room;
	u8 *buf;
	u32 used;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ioapic_addr = IOAPIC_ADDR;
	cfg.irq0_pin = 2; /* QEMU wires the PIT to GSI 2; the MADT says so too */
	if (madt)
		from_madt(&cfg, madt);
	if (!cfg.ncpus) {
		cfg.ncpus = MIN(fw_cfg_read32(FW_CFG_NB_CPUS) & 0xffff, (u32)MP_MAX_CPUS);
		for (u32 i = 0; i < cfg.ncpus; i++)
			cfg.apic_id[i] = (u8)i;
	}
	asm("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	cfg.cpu_signature = eax;
	cfg.cpu_features = edx;
	pci_mp_irqs(&cfg);
	/* Floating pointer, header, CPUs, buses and I/O APIC, interrupt entries. */
	room = 16 + 44 + cfg.ncpus * 20 + (cfg.pci_buses + 2) * 8 + (20 + cfg.npci_irqs) * 8;
	buf = fseg_alloc(room, 16);
	used = buf ? mptable_build(buf, room, (u32)(uptr)buf, &cfg) : 0;
	if (!used)
		warn("MP table: no room in the F segment");
	return cfg.ncpus;
}
