/* QEMU's firmware configuration device (docs/specs/fw_cfg.rst). */
#ifndef MINIBIOS_FW_CFG_H
#define MINIBIOS_FW_CFG_H

#include "types.h"

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_KERNEL_ADDR 0x07
#define FW_CFG_KERNEL_SIZE 0x08
#define FW_CFG_INITRD_ADDR 0x0a
#define FW_CFG_INITRD_SIZE 0x0b
#define FW_CFG_KERNEL_ENTRY 0x10
#define FW_CFG_KERNEL_DATA 0x11
#define FW_CFG_INITRD_DATA 0x12
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_SETUP_SIZE 0x17
#define FW_CFG_SETUP_DATA 0x18
#define FW_CFG_FILE_DIR 0x19

#define FW_CFG_MAX_FILE_PATH 56

/* A directory entry as QEMU sends it (size and select are big-endian). */
struct fw_cfg_file {
	u32 be_size;
	u16 be_select;
	u16 reserved;
	char name[FW_CFG_MAX_FILE_PATH];
} __packed;

struct fw_cfg_dir {
	u32 count;
	const struct fw_cfg_file *files;
};

/* Check the signature and pick DMA when offered; fatal if there is no fw_cfg. */
void fw_cfg_init(void);
void fw_cfg_read(u16 key, void *buf, u32 len);
u32 fw_cfg_read32(u16 key);
/* Write a buffer into an item at offset (DMA only: QEMU ignores port writes). */
void fw_cfg_write_at(u16 key, u32 offset, const void *buf, u32 len);

/* Read the file directory into scratch memory (once). */
const struct fw_cfg_dir *fw_cfg_directory(void);
/* The entry named name, or NULL. Pure: host-tested. */
const struct fw_cfg_file *fw_cfg_dir_find(const struct fw_cfg_dir *dir, const char *name);
/* Read a whole file into scratch memory; NULL if absent. */
void *fw_cfg_load_file(const char *name, u32 *size);

#endif
