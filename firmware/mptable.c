/*
 * The MP table: CPUs, buses, the I/O APIC and the interrupt wiring, for a
 * kernel that boots without ACPI. The facts come from QEMU's MADT where it
 * built one (APIC IDs, the I/O APIC, IRQ 0's override) and from the PCI
 * set-up; the table goes in the F segment where the spec's scan looks.
 */
#include "acpi.h"
#include "apic.h"
#include "checksum.h"
#include "console.h"
#include "fw_cfg.h"
#include "mptable.h"
#include "pci_irq.h"
#include "platform.h"
#include "signature.h"
#include "string.h"
#include "tables_memory.h"

#define LAPIC_VERSION 0x14 /* what QEMU's local APIC reports */
#define IOAPIC_VERSION 0x11 /* and its I/O APIC */
#define ISA_IRQS 16
#define ISA_IRQ_CASCADE 2 /* the slave 8259: no device behind it */
/*
 * Interrupt entries besides PCI's: the 8259 on I/O APIC pin 0, the ISA IRQs
 * but the cascade, the local LINT0 and LINT1 (18); sized with two spare, as
 * ever, so that the F segment's later tables stay where they were.
 */
#define MP_FIXED_INTRS 20

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
		*e = (struct mp_intr){
			.type = type,
			.irq_type = irq_type,
			.flags = flags,
			.src_bus = src_bus,
			.src_irq = src_irq,
			.dst_apic = dst_apic,
			.dst_pin = dst_pin,
		};
}

static void emit_interrupts(struct builder *b, const struct mp_config *cfg, u8 isa_bus)
{
	/* The 8259 behind pin 0, then ISA IRQs on their pins (IRQ 0 overridden). */
	emit_intr(b, MP_IOINTR, MP_EXTINT, MP_IRQ_CONFORMS, isa_bus, 0, cfg->ioapic_id, 0);
	for (u8 irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == ISA_IRQ_CASCADE || (cfg->pci_irq_mask & (1u << irq)))
			continue;
		emit_intr(b, MP_IOINTR, MP_INT, MP_IRQ_CONFORMS, isa_bus, irq, cfg->ioapic_id,
			  irq == 0 ? cfg->irq0_pin : irq);
	}
	for (u32 i = 0; i < cfg->npci_irqs; i++) {
		const struct mp_pci_irq *r = &cfg->pci_irq[i];

		emit_intr(b, MP_IOINTR, MP_INT, MP_IRQ_ACTIVE_LOW_LEVEL, r->bus,
			  (u8)(r->slot << 2 | r->intx), cfg->ioapic_id, r->ioapic_pin);
	}
	/* Local interrupts: the 8259 on LINT0, NMI on LINT1, of every CPU. */
	emit_intr(b, MP_LINTR, MP_EXTINT, MP_IRQ_CONFORMS, isa_bus, 0, MP_ALL_LAPICS, 0);
	emit_intr(b, MP_LINTR, MP_NMI, MP_IRQ_CONFORMS, isa_bus, 0, MP_ALL_LAPICS, 1);
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
				.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
				.signature = cfg->cpu_signature,
				.features = cfg->cpu_features,
			};
	}
	for (u32 bus = 0; bus < cfg->pci_buses; bus++) {
		struct mp_bus *e = emit(&b, sizeof(*e));

		if (e)
			*e = (struct mp_bus){ .type = MP_BUS, .id = (u8)bus, .name = "PCI   " };
	}
	{
		struct mp_bus *e = emit(&b, sizeof(*e));
		struct mp_ioapic *io = emit(&b, sizeof(*io));

		if (e)
			*e = (struct mp_bus){ .type = MP_BUS, .id = isa_bus, .name = "ISA   " };
		if (io)
			*io = (struct mp_ioapic){
				.type = MP_IOAPIC,
				.id = cfg->ioapic_id,
				.version = IOAPIC_VERSION,
				.flags = MP_IOAPIC_ENABLED,
				.addr = cfg->ioapic_addr,
			};
	}
	emit_interrupts(&b, cfg, isa_bus);
	if (!b.room || b.used - sizeof(*fp) > 0xffff)
		return 0;

	*hdr = (struct mp_config_header){
		.signature = "PCMP",
		.length = (u16)(b.used - sizeof(*fp)),
		.revision = MP_SPEC_REV,
		.oem = "MINIBIOS",
		.product = "QEMU        ",
		.entries = b.entries,
		.lapic = LAPIC_BASE,
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
void mp_config_from_madt(struct mp_config *cfg, const struct acpi_madt *madt)
{
	const u8 *table = (const u8 *)madt;
	const struct acpi_madt_entry *e;

	for (u32 off = sizeof(*madt); off + sizeof(*e) <= madt->header.length; off += e->length) {
		e = (const void *)(table + off);
		if (e->length < sizeof(*e) || off + e->length > madt->header.length)
			break; /* a zero length would loop; a long one runs past the table */
		if (e->type == MADT_LOCAL_APIC && e->length >= sizeof(struct acpi_madt_lapic)) {
			const struct acpi_madt_lapic *l = (const void *)e;

			if ((l->flags & MADT_LAPIC_ENABLED) && cfg->ncpus < MP_MAX_CPUS)
				cfg->apic_id[cfg->ncpus++] = l->apic_id;
		} else if (e->type == MADT_IO_APIC && e->length >= sizeof(struct acpi_madt_ioapic)) {
			const struct acpi_madt_ioapic *io = (const void *)e;

			cfg->ioapic_id = io->ioapic_id;
			cfg->ioapic_addr = io->addr;
		} else if (e->type == MADT_INT_OVERRIDE &&
			   e->length >= sizeof(struct acpi_madt_override)) {
			const struct acpi_madt_override *o = (const void *)e;

			/* GSI of ISA IRQ 0; QEMU's I/O APIC starts at GSI 0 */
			if (o->bus == 0 && o->source_irq == 0)
				cfg->irq0_pin = (u8)o->gsi;
		}
	}
}

u32 mptable_size(const struct mp_config *cfg)
{
	return sizeof(struct mp_floating) + sizeof(struct mp_config_header) +
	       cfg->ncpus * sizeof(struct mp_processor) +
	       (cfg->pci_buses + 1) * sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +
	       (MP_FIXED_INTRS + cfg->npci_irqs) * sizeof(struct mp_intr);
}

u32 mptable_setup(u32 rsdp)
{
	struct mp_config cfg = {
		.ioapic_addr = IOAPIC_BASE,
		.irq0_pin = 2, /* QEMU wires the PIT to GSI 2; the MADT says so too */
	};
	const struct acpi_madt *madt = acpi_find_table(rsdp, "APIC");
	u32 eax = 1, ebx, ecx = 0, edx;
	u32 room;
	u8 *buf;
	u32 used;

	if (madt)
		mp_config_from_madt(&cfg, madt);
	if (!cfg.ncpus) {
		cfg.ncpus = MIN(fw_cfg_read32(FW_CFG_NB_CPUS) & 0xffff, (u32)MP_MAX_CPUS);
		for (u32 i = 0; i < cfg.ncpus; i++)
			cfg.apic_id[i] = (u8)i;
	}
	asm("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	cfg.cpu_signature = eax;
	cfg.cpu_features = edx;
	pci_mp_irqs(&cfg);
	room = mptable_size(&cfg);
	buf = fseg_alloc(room, 16);
	used = buf ? mptable_build(buf, room, (u32)(uptr)buf, &cfg) : 0;
	if (!used)
		warn("MP table: no room in the F segment");
	return cfg.ncpus;
}
