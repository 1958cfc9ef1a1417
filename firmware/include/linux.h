/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst). */
#ifndef MINIBIOS_LINUX_H
#define MINIBIOS_LINUX_H

#include "e820.h"
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
#define XLF_KERNEL_64 (1 << 0)  /* xloadflags: a 64-bit entry at load address + 0x200 */
#define LINUX_DEFAULT_LOAD 0x100000
#define LINUX_ENTRY64_OFFSET 0x200

enum linux_protocol {
	LINUX_BOOT_16 = 16, /* real-mode setup code, on the BIOS services */
	LINUX_BOOT_32 = 32, /* protected mode at the load address, boot_params in ESI */
	LINUX_BOOT_64 = 64, /* long mode at load address + 0x200, identity paging */
};

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

/*
 * boot_params, the "zero page" (Documentation/arch/x86/zero-page.rst): the
 * fields the firmware fills for the 32/64-bit entries; everything else it
 * leaves zero. The setup header sits inside it where it sits in the bzImage.
 */
struct boot_params {
	u8 _pad_0x000[0x070];
	u64 acpi_rsdp_addr;
	u8 _pad_0x078[0x0c0 - 0x078];
	u32 ext_ramdisk_image;
	u32 ext_ramdisk_size;
	u32 ext_cmd_line_ptr;
	u8 _pad_0x0cc[0x1e0 - 0x0cc];
	u32 alt_mem_k;
	u8 _pad_0x1e4[0x1e8 - 0x1e4];
	u8 e820_entries;
	u8 _pad_0x1e9[SETUP_HEADER_OFFSET - 0x1e9];
	struct setup_header hdr;
	u8 _pad_0x26c[0x2d0 - 0x26c];
	struct e820_entry e820_table[E820_MAX];
	u8 _pad_0xcd0[0x1000 - 0xcd0]; /* EDD and other BIOS data: none here */
} __packed;

#define BP_CHECK(f, off) \
	_Static_assert(__builtin_offsetof(struct boot_params, f) == (off), "boot_params " #f)
BP_CHECK(acpi_rsdp_addr, 0x070);
BP_CHECK(ext_ramdisk_image, 0x0c0);
BP_CHECK(ext_ramdisk_size, 0x0c4);
BP_CHECK(ext_cmd_line_ptr, 0x0c8);
BP_CHECK(alt_mem_k, 0x1e0);
BP_CHECK(e820_entries, 0x1e8);
BP_CHECK(hdr, SETUP_HEADER_OFFSET);
BP_CHECK(_pad_0x26c, 0x26c); /* the header ends at 0x26c (protocol 2.15) */
BP_CHECK(e820_table, 0x2d0);
BP_CHECK(_pad_0xcd0, 0xcd0); /* 128 entries of 20 bytes */
#undef BP_CHECK
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

/* What QEMU hands over through fw_cfg, and where the firmware puts it. */
struct linux_image {
	u32 setup_size;
	u32 kernel_addr;  /* chosen by linux_place */
	u32 kernel_size;
	u32 cmdline_size; /* including the terminating NUL */
	u32 initrd_size;
	u32 initrd_addr;  /* chosen by linux_place */
	u32 qemu_kernel_addr; /* where QEMU expected it: its setup_data points there */
};

/* Check a loaded setup block; NULL if bootable, else why not. Pure. */
const char *linux_check_setup(const void *setup, const struct linux_image *img);
/*
 * Choose where the kernel goes (pref_address for a relocatable kernel when
 * that leaves room, else 1 MiB) and put the initrd at the top of what lies
 * below initrd_addr_max and the end of low RAM, above the kernel's
 * init_size. NULL on success, else why it cannot be done. Pure.
 */
const char *linux_place(const struct setup_header *hdr, struct linux_image *img,
			u64 low_ram_end);
/* The entry the header allows that is asked for, or the fastest one. Pure. */
enum linux_protocol linux_pick_protocol(const struct setup_header *hdr, unsigned wanted);
/*
 * The kernel moved from `from` to `to`: shift the pointers of QEMU's
 * setup_data chain that pointed into its old place (the chain lives at the
 * end of the kernel image).
 */
void linux_relocate_setup_data(struct setup_header *hdr, u64 from, u64 to, u32 size);
/* Fill a zeroed 4 KiB zero page for the 32/64-bit entries. Pure. */
void linux_fill_boot_params(struct boot_params *bp, const void *setup,
			    const struct linux_image *img, const struct e820_map *map,
			    u32 cmdline_addr, u64 rsdp);
/* Fill in the header fields a boot loader owns. Pure. */
void linux_patch_header(struct setup_header *hdr, const struct linux_image *img, u32 cmdline_addr);

/* Load the bzImage, initrd and command line QEMU was given and enter the kernel
 * by the protocol opt/minibios/boot-protocol asks for (16, 32 or 64-bit). */
__noreturn void linux_boot(u64 rsdp);
/* In entry.S: the 64-bit protocol entry (the 32-bit one is enter_flat32). */
__noreturn void enter_linux64(u32 entry, u32 boot_params, u32 pml4);

#endif
