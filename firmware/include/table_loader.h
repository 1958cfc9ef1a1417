/*
 * QEMU's ACPI table-loader script (etc/table-loader, from
 * hw/acpi/bios-linker-loader.c): 128-byte commands that allocate fw_cfg
 * files in guest memory, patch pointers between them, fix checksums and
 * write addresses back to QEMU.
 */
#ifndef MINIBIOS_TABLE_LOADER_H
#define MINIBIOS_TABLE_LOADER_H

#include "fw_cfg.h"
#include "types.h"

#define LOADER_ALLOCATE 1
#define LOADER_ADD_POINTER 2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_WRITE_POINTER 4
#define LOADER_COMMAND_SIZE 128

#define LOADER_ZONE_HIGH 1
#define LOADER_ZONE_FSEG 2

/* A file the script allocated: where it is, in the firmware's view and the guest's. */
struct loader_blob {
	char name[FW_CFG_MAX_FILE_PATH];
	u8 *data;
	u64 addr;
	u32 size;
};

/* What the interpreter needs from the machine (the firmware, or a test). */
struct table_loader_ops {
	void *ctx;
	/* The fw_cfg file's size and key; false if there is none. */
	bool (*lookup)(void *ctx, const char *name, u32 *size, u16 *select);
	/* size bytes aligned to align in the zone; NULL if there is no room. */
	void *(*alloc)(void *ctx, u8 zone, u32 size, u32 align, u64 *addr);
	void (*load)(void *ctx, u16 select, void *buf, u32 size);
	/* Write the size-byte little-endian value at offset of the file. */
	void (*write_pointer)(void *ctx, u16 select, u32 offset, u64 value, u8 size);
};

struct table_loader {
	const struct table_loader_ops *ops;
	struct loader_blob *blobs;
	u32 nblobs, max_blobs;
	u32 warnings; /* commands skipped as unknown or malformed */
};

/*
 * Run a script. Never writes outside what it allocated; a command that is
 * unknown or does not fit is skipped with a warning on the console.
 */
void table_loader_run(struct table_loader *tl, const void *script, u32 size);
const struct loader_blob *table_loader_find(const struct table_loader *tl, const char *name);

#endif
