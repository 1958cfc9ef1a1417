/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst). */
#ifndef MINIBIOS_LINUX_H
#define MINIBIOS_LINUX_H

#include "types.h"

#define SETUP_HEADER_OFFSET 0x1f1
#define BOOT_FLAG_MAGIC 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define LINUX_MIN_VERSION 0x0206 /* cmdline_size and a 32-bit initrd limit */
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define LOADER_TYPE_UNDEFINED 0xff
#define SETUP_MAX_SIZE 0x8000 /* real-mode code; heap and stack follow */
#define SETUP_HEAP_END 0xfe00 /* heap_end_ptr: the 64 KiB segment less 512 bytes */

struct setup_header {
	u8 setup_sects;
	u16 root_flags;
	u32 syssize;
	u16 ram_size;
	u16 vid_mode;
	u16 root_dev;
	u16 boot_flag;
	u16 jump;
	u32 header;
	u16 version;
	u32 realmode_swtch;
	u16 start_sys_seg;
	u16 kernel_version;
	u8 type_of_loader;
	u8 loadflags;
	u16 setup_move_size;
	u32 code32_start;
	u32 ramdisk_image;
	u32 ramdisk_size;
	u32 bootsect_kludge;
	u16 heap_end_ptr;
	u8 ext_loader_ver;
	u8 ext_loader_type;
	u32 cmd_line_ptr;
	u32 initrd_addr_max;
	u32 kernel_alignment;
	u8 relocatable_kernel;
	u8 min_alignment;
	u16 xloadflags;
	u32 cmdline_size;
	u32 hardware_subarch;
	u64 hardware_subarch_data;
	u32 payload_offset;
	u32 payload_length;
	u64 setup_data;
	u64 pref_address;
	u32 init_size;
	u32 handover_offset;
	u32 kernel_info_offset;
} __packed;

_Static_assert(__builtin_offsetof(struct setup_header, version) == 0x206 - 0x1f1, "hdr");
_Static_assert(__builtin_offsetof(struct setup_header, cmd_line_ptr) == 0x228 - 0x1f1, "hdr");
_Static_assert(__builtin_offsetof(struct setup_header, init_size) == 0x260 - 0x1f1, "hdr");

/* What QEMU hands over through fw_cfg, and where the firmware puts it. */
struct linux_image {
	u32 setup_size;
	u32 kernel_addr;
	u32 kernel_size;
	u32 cmdline_size; /* including the terminating NUL */
	u32 initrd_size;
	u32 initrd_addr;  /* chosen by linux_place */
};

/* Check a loaded setup block; NULL if bootable, else why not. Pure. */
const char *linux_check_setup(const void *setup, const struct linux_image *img);
/*
 * Place the initrd below initrd_addr_max and the end of low RAM, above the
 * kernel's init_size; NULL on success, else why it cannot be placed. Pure.
 */
const char *linux_place_initrd(const struct setup_header *hdr, struct linux_image *img,
			       u64 low_ram_end);
/* Fill in the header fields a boot loader owns. Pure. */
void linux_patch_header(struct setup_header *hdr, const struct linux_image *img, u32 cmdline_addr);

/* Load the -kernel/-initrd/-append QEMU was given and enter the kernel. */
__noreturn void linux_boot(void);

#endif
