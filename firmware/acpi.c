/*
 * ACPI: QEMU builds the tables; the firmware places them where its
 * table-loader script says and lets the guest find the RSDP in the F segment.
 */
#include "acpi.h"
#include "console.h"
#include "fw_cfg.h"
#include "io.h"
#include "scratch.h"
#include "signature.h"
#include "string.h"
#include "table_loader.h"
#include "tables_memory.h"

static bool fw_lookup(void *ctx, const char *name, u32 *size, u16 *select)
{
	const struct fw_cfg_file *f = fw_cfg_dir_find(ctx, name);

	if (!f)
		return false;
	*size = be32(f->be_size);
	*select = be16(f->be_select);
	return true;
}

static void *fw_alloc(void *ctx, u8 zone, u32 size, u32 align, u64 *addr)
{
	void *p = zone == LOADER_ZONE_FSEG ? fseg_alloc(size, align) : high_alloc(size, align);

	(void)ctx;
	*addr = (uptr)p;
	return p;
}

static void fw_load(void *ctx, u16 select, void *buf, u32 size)
{
	(void)ctx;
	fw_cfg_read(select, buf, size);
}

static void fw_write_pointer(void *ctx, u16 select, u32 offset, u64 value, u8 size)
{
	(void)ctx;
	fw_cfg_write_at(select, offset, &value, size); /* little-endian, like the guest */
}

u32 acpi_setup(void)
{
	const struct fw_cfg_dir *dir = fw_cfg_directory();
	const struct table_loader_ops ops = {
		.ctx = (void *)dir,
		.lookup = fw_lookup,
		.alloc = fw_alloc,
		.load = fw_load,
		.write_pointer = fw_write_pointer,
	};
	struct table_loader tl = { .ops = &ops };
	const struct loader_blob *blob;
	const struct acpi_rsdp *rsdp;
	u32 size = 0;
	void *script = fw_cfg_load_file("etc/table-loader", &size);

	if (!script)
		return 0;
	/* Each file is allocated at most once: the script bounds the table. */
	tl.max_blobs = size / LOADER_COMMAND_SIZE;
	tl.blobs = scratch_alloc(tl.max_blobs * sizeof(*tl.blobs));
	table_loader_run(&tl, script, size);
	blob = table_loader_find(&tl, "etc/acpi/rsdp");
	rsdp = blob ? (const void *)blob->data : NULL;
	if (!rsdp || blob->size < ACPI_RSDP_V1_SIZE || !sig_is(rsdp->signature, SIG_RSDP_LO) ||
	    !sig_is(rsdp->signature + 4, SIG_RSDP_HI)) {
		warn("ACPI: QEMU's tables have no RSDP");
		return 0;
	}
	return (u32)blob->addr;
}

const void *acpi_find_table(u32 rsdp, const char *signature)
{
	const struct acpi_rsdp *r = phys_ptr(rsdp);
	u64 root = 0;
	u32 entry_size = ACPI_XSDT_ENTRY_SIZE;
	const struct acpi_header *h;

	if (!rsdp)
		return NULL;
	/* Revision 2 has an XSDT of 64-bit pointers; else the RSDT's 32-bit ones. */
	if (r->revision >= ACPI_RSDP_XSDT_REVISION)
		root = r->xsdt_addr;
	if (!root) {
		root = r->rsdt_addr;
		entry_size = ACPI_RSDT_ENTRY_SIZE;
	}
	if (!root || root >> 32)
		return NULL;
	h = phys_ptr(root);
	for (u32 off = sizeof(*h); off + entry_size <= h->length; off += entry_size) {
		u64 addr = 0;
		const struct acpi_header *t;

		memcpy(&addr, (const u8 *)h + off, entry_size); /* little-endian: 4 or 8 bytes */
		if (!addr || addr >> 32)
			continue; /* none, or out of the firmware's reach */
		t = phys_ptr(addr);
		if (!memcmp(t->signature, signature, 4))
			return t;
	}
	return NULL;
}
