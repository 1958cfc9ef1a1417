/*
 * The table-loader interpreter. Pure apart from the ops it is given: the
 * host tests run it on hostile scripts.
 */
#include "checksum.h"
#include "console.h"
#include "string.h"
#include "table_loader.h"

struct cmd_allocate {
	char file[FW_CFG_MAX_FILE_PATH];
	u32 align;
	u8 zone;
} __packed;

struct cmd_add_pointer {
	char dest[FW_CFG_MAX_FILE_PATH];
	char src[FW_CFG_MAX_FILE_PATH];
	u32 offset;
	u8 size;
} __packed;

struct cmd_add_checksum {
	char file[FW_CFG_MAX_FILE_PATH];
	u32 offset;
	u32 start;
	u32 length;
} __packed;

struct cmd_write_pointer {
	char dest[FW_CFG_MAX_FILE_PATH];
	char src[FW_CFG_MAX_FILE_PATH];
	u32 dst_offset;
	u32 src_offset;
	u8 size;
} __packed;

/* Each command is a u32 type and then its body, padded to LOADER_COMMAND_SIZE. */
#define LOADER_BODY_SIZE (LOADER_COMMAND_SIZE - 4)
_Static_assert(sizeof(struct cmd_allocate) <= LOADER_BODY_SIZE, "allocate");
_Static_assert(sizeof(struct cmd_add_pointer) <= LOADER_BODY_SIZE, "add_pointer");
_Static_assert(sizeof(struct cmd_add_checksum) <= LOADER_BODY_SIZE, "add_checksum");
_Static_assert(sizeof(struct cmd_write_pointer) <= LOADER_BODY_SIZE, "write_pointer");

static void skip(struct table_loader *tl, const char *what, const char *file)
{
	tl->warnings++;
	warn("table-loader: skipped %s (%s)", what, file);
}

const struct loader_blob *table_loader_find(const struct table_loader *tl, const char *name)
{
	for (u32 i = 0; i < tl->nblobs; i++)
		if (!strncmp(tl->blobs[i].name, name, FW_CFG_MAX_FILE_PATH))
			return &tl->blobs[i];
	return NULL;
}

static bool is_pointer_size(u8 size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* [offset, offset + len) inside a size-byte object, without overflow. */
static bool fits(u32 offset, u32 len, u32 size)
{
	return offset <= size && len <= size - offset;
}

static void allocate(struct table_loader *tl, const struct cmd_allocate *c)
{
	const struct table_loader_ops *ops = tl->ops;
	struct loader_blob *b;
	u32 size;
	u16 select;
	u32 align = c->align ? c->align : 1;

	if (table_loader_find(tl, c->file))
		return skip(tl, "second ALLOCATE of a file", c->file);
	if (!ops->lookup(ops->ctx, c->file, &size, &select))
		return skip(tl, "ALLOCATE of a missing file", c->file);
	if (align & (align - 1))
		return skip(tl, "ALLOCATE with an alignment not a power of two", c->file);
	if (c->zone != LOADER_ZONE_HIGH && c->zone != LOADER_ZONE_FSEG)
		return skip(tl, "ALLOCATE in an unknown zone", c->file);
	if (tl->nblobs == tl->max_blobs)
		return skip(tl, "ALLOCATE beyond the file table", c->file);
	b = &tl->blobs[tl->nblobs];
	b->data = ops->alloc(ops->ctx, c->zone, size, align, &b->addr);
	if (!b->data)
		return skip(tl, "ALLOCATE that does not fit its zone", c->file);
	memcpy(b->name, c->file, FW_CFG_MAX_FILE_PATH);
	b->name[FW_CFG_MAX_FILE_PATH - 1] = 0;
	b->size = size;
	ops->load(ops->ctx, select, b->data, size);
	tl->nblobs++;
}

static u64 get_le(const u8 *p, u8 size)
{
	u64 v = 0;

	for (int i = size - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(u8 *p, u64 v, u8 size)
{
	for (u8 i = 0; i < size; i++, v >>= 8)
		p[i] = (u8)v;
}

static void add_pointer(struct table_loader *tl, const struct cmd_add_pointer *c)
{
	const struct loader_blob *dest = table_loader_find(tl, c->dest);
	const struct loader_blob *src = table_loader_find(tl, c->src);

	if (!dest || !src)
		return skip(tl, "ADD_POINTER between unallocated files", c->dest);
	if (!is_pointer_size(c->size) || !fits(c->offset, c->size, dest->size))
		return skip(tl, "ADD_POINTER outside its file", c->dest);
	put_le(dest->data + c->offset, get_le(dest->data + c->offset, c->size) + src->addr,
	       c->size);
}

static void add_checksum(struct table_loader *tl, const struct cmd_add_checksum *c)
{
	const struct loader_blob *b = table_loader_find(tl, c->file);

	if (!b)
		return skip(tl, "ADD_CHECKSUM of an unallocated file", c->file);
	if (!fits(c->start, c->length, b->size) || !fits(c->offset, 1, b->size))
		return skip(tl, "ADD_CHECKSUM outside its file", c->file);
	b->data[c->offset] -= checksum8(b->data + c->start, c->length);
}

static void write_pointer(struct table_loader *tl, const struct cmd_write_pointer *c)
{
	const struct table_loader_ops *ops = tl->ops;
	const struct loader_blob *src = table_loader_find(tl, c->src);
	u32 size;
	u16 select;

	if (!src)
		return skip(tl, "WRITE_POINTER to an unallocated file", c->src);
	if (!ops->lookup(ops->ctx, c->dest, &size, &select))
		return skip(tl, "WRITE_POINTER into a missing file", c->dest);
	if (!is_pointer_size(c->size) || !fits(c->dst_offset, c->size, size) ||
	    c->src_offset >= src->size)
		return skip(tl, "WRITE_POINTER outside its file", c->dest);
	ops->write_pointer(ops->ctx, select, c->dst_offset, src->addr + c->src_offset, c->size);
}

void table_loader_run(struct table_loader *tl, const void *script, u32 size)
{
	const u8 *p = script;

	for (u32 off = 0; off + LOADER_COMMAND_SIZE <= size; off += LOADER_COMMAND_SIZE) {
		u32 command;
		/* A copy: the script may sit at any alignment, and names need a NUL. */
		union {
			u8 raw[LOADER_BODY_SIZE + 1];
			struct cmd_allocate allocate;
			struct cmd_add_pointer add_pointer;
			struct cmd_add_checksum add_checksum;
			struct cmd_write_pointer write_pointer;
		} c;

		memcpy(&command, p + off, 4);
		memcpy(c.raw, p + off + 4, LOADER_BODY_SIZE);
		c.raw[LOADER_BODY_SIZE] = 0;
		switch (command) {
		case 0:
			break; /* padding */
		case LOADER_ALLOCATE:
			c.allocate.file[FW_CFG_MAX_FILE_PATH - 1] = 0;
			allocate(tl, &c.allocate);
			break;
		case LOADER_ADD_POINTER:
			c.add_pointer.dest[FW_CFG_MAX_FILE_PATH - 1] = 0;
			c.add_pointer.src[FW_CFG_MAX_FILE_PATH - 1] = 0;
			add_pointer(tl, &c.add_pointer);
			break;
		case LOADER_ADD_CHECKSUM:
			c.add_checksum.file[FW_CFG_MAX_FILE_PATH - 1] = 0;
			add_checksum(tl, &c.add_checksum);
			break;
		case LOADER_WRITE_POINTER:
			c.write_pointer.dest[FW_CFG_MAX_FILE_PATH - 1] = 0;
			c.write_pointer.src[FW_CFG_MAX_FILE_PATH - 1] = 0;
			write_pointer(tl, &c.write_pointer);
			break;
		default:
			tl->warnings++;
			warn("table-loader: skipped unknown command %u", command);
		}
	}
}
