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
	const struct loader_blob *rsdp;
	u32 size = 0;
	void *script = fw_cfg_load_file("etc/table-loader", &size);

	if (!script)
		return 0;
	/* Each file is allocated at most once: the script bounds the table. */
	tl.max_blobs = size / LOADER_COMMAND_SIZE;
	tl.blobs = scratch_alloc(tl.max_blobs * sizeof(*tl.blobs));
	table_loader_run(&tl, script, size);
	rsdp = table_loader_find(&tl, "etc/acpi/rsdp");
	if (!rsdp || rsdp->size < 20 || !sig_is(rsdp->data, SIG_RSDP_LO) ||
	    !sig_is((const u8 *)rsdp->data + 4, SIG_RSDP_HI)) {
		warn("ACPI: QEMU's tables have no RSDP");
		return 0;
	}
	return (u32)rsdp->addr;
}

struct acpi_header {
	char signature[4];
	u32 length;
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	u32 oem_revision;
	u32 creator_id;
	u32 creator_revision;
} __packed;

const void *acpi_find_table(u32 rsdp, const char *signature)
{
	const u8 *r = phys_ptr(rsdp);
	u64 root = 0;
	u32 entry_size = 8;
	const struct acpi_header *h;

	if (!rsdp)
		return NULL;
	/* Revision 2 has an XSDT of 64-bit pointers; else the RSDT's 32-bit ones. */
	if (r[15] >= 2)
		memcpy(&root, r + 24, 8);
	if (!root) {
		memcpy(&root, r + 16, 4);
		entry_size = 4;
	}
	h = phys_ptr(root);
	if (!root || root >> 32)
		return NULL;
	for (u32 off = sizeof(*h); off + entry_size <= h->length; off += entry_size) {
		u64 addr = 0;
		const struct acpi_header *t;

		memcpy(&addr, (const u8 *)h + off, entry_size);
		t = phys_ptr(addr);
		if (addr && !(addr >> 32) && !memcmp(t->signature, signature, 4))
			return t;
	}
	return NULL;
}
