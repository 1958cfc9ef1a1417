/*
 * SMBIOS. QEMU writes the structures and an entry point; the firmware puts
 * the structures in reserved memory, the entry point in the F segment where
 * the legacy scan finds it, and adds its own Type 0 unless the user gave one.
 */
#include "checksum.h"
#include "console.h"
#include "fw_cfg.h"
#include "signature.h"
#include "smbios.h"
#include "string.h"
#include "tables_memory.h"
#include "version.h"

/*
 * The BIOS date is not this firmware's release date: Linux keys behaviour on
 * the BIOS year, and only a year in 2008-2014 gives a VM its normal paths.
 * From 2015 (Intel CPUs; AMD and Hygon from 2021) rtc-cmos uses the ACPI RTC
 * alarm instead of HPET interrupts, and `hwclock` then waits for RTC ticks
 * for seconds under QEMU; from 2015 PCIe ports may go to D3, from 2012 S3
 * skips saving NVS; before 2008 the ACPI host bridge windows (_CRS) are
 * ignored. SeaBIOS's date, 04/01/2014, is in the window: Linux then takes
 * the same paths as with QEMU's default firmware. SMBIOS wants mm/dd/yyyy.
 */
#define TYPE0_BIOS_DATE "04/01/2014"
#define TYPE0_STRINGS "minibios\0" MINIBIOS_VERSION "\0" TYPE0_BIOS_DATE "\0"
#define TYPE0_SIZE (sizeof(struct smbios_type0) + sizeof(TYPE0_STRINGS)) /* with the final NUL */
#define TYPE0_HANDLE 0 /* QEMU numbers its own structures from 0x100 */
#define BIOS_CHAR_NOT_SUPPORTED (1 << 3) /* "characteristics are not supported" */
#define BIOS_CHAR_EXT2_VIRTUAL_MACHINE (1 << 4)
#define ROM_SEGMENT 0xf000
#define NO_EC 0xff

bool smbios_has_type(const u8 *tables, u32 size, u8 type)
{
	u32 off = 0;

	while (off + sizeof(struct smbios_header) <= size) {
		const struct smbios_header *h = (const void *)(tables + off);

		if (h->type == type)
			return true;
		if (h->type == SMBIOS_TYPE_END || h->length < sizeof(*h))
			return false;
		/* Skip the formatted area, then the strings up to the double NUL. */
		off += h->length;
		while (off + 1 < size && (tables[off] || tables[off + 1]))
			off++;
		off += 2;
	}
	return false;
}

u32 smbios_type0(u8 *buf, u32 room)
{
	struct smbios_type0 *t = (void *)buf;

	if (room < TYPE0_SIZE)
		return 0;
	*t = (struct smbios_type0){
		.header = { .type = SMBIOS_TYPE_BIOS, .length = sizeof(*t), .handle = TYPE0_HANDLE },
		.vendor_str = 1,
		.version_str = 2,
		.start_segment = ROM_SEGMENT,
		.release_date_str = 3,
		.rom_size = 0, /* 64 KiB */
		.characteristics = BIOS_CHAR_NOT_SUPPORTED,
		.characteristics_ext2 = BIOS_CHAR_EXT2_VIRTUAL_MACHINE,
		.major = MINIBIOS_MAJOR,
		.minor = MINIBIOS_MINOR,
		.ec_major = NO_EC,
		.ec_minor = NO_EC,
	};
	memcpy(buf + sizeof(*t), TYPE0_STRINGS, sizeof(TYPE0_STRINGS));
	return TYPE0_SIZE;
}

static bool patch_entry21(struct smbios_entry21 *e, u32 addr, u32 len, u16 added,
			  u16 max_struct)
{
	const u32 dmi_size = sizeof(*e) - __builtin_offsetof(struct smbios_entry21,
							      intermediate_anchor);

	if (len > 0xffff)
		return false;
	e->max_structure_size = MAX(e->max_structure_size, max_struct);
	e->table_length = (u16)len;
	e->table_addr = addr;
	e->structures += added;
	e->intermediate_checksum = 0;
	e->intermediate_checksum = (u8)-checksum8(e->intermediate_anchor, dmi_size);
	e->checksum = 0;
	e->checksum = (u8)-checksum8(e, sizeof(*e));
	return true;
}

static void patch_entry30(struct smbios_entry30 *e, u32 addr, u32 len)
{
	e->table_max_size = len;
	e->table_addr = addr; /* below 4 GiB: the high half is 0 */
	e->checksum = 0;
	e->checksum = (u8)-checksum8(e, sizeof(*e));
}

bool smbios_patch_entry(u8 *entry, u32 entry_size, u32 addr, u32 len, u16 added,
			u16 max_struct)
{
	struct smbios_entry21 *e21 = (void *)entry;
	struct smbios_entry30 *e30 = (void *)entry;

	if (entry_size >= sizeof(*e21) && sig_is(e21->anchor, SIG_SM) &&
	    e21->length == sizeof(*e21))
		return patch_entry21(e21, addr, len, added, max_struct);
	if (entry_size >= sizeof(*e30) && sig_is(e30->anchor, SIG_SM3) &&
	    e30->anchor[4] == '_' && e30->length == sizeof(*e30)) {
		patch_entry30(e30, addr, len);
		return true;
	}
	return false;
}

void smbios_setup(void)
{
	u32 anchor_size = 0, size = 0, type0_size = 0;
	const u8 *anchor = fw_cfg_load_file("etc/smbios/smbios-anchor", &anchor_size);
	const u8 *tables = fw_cfg_load_file("etc/smbios/smbios-tables", &size);
	u8 type0[TYPE0_SIZE];
	u8 *entry, *placed;

	if (!anchor || !tables)
		return;
	if (!smbios_has_type(tables, size, SMBIOS_TYPE_BIOS))
		type0_size = smbios_type0(type0, sizeof(type0));
	placed = high_alloc(type0_size + size, 16);
	entry = fseg_alloc(anchor_size, 16);
	if (!placed || !entry) {
		warn("SMBIOS: no room for the tables");
		return;
	}
	memcpy(placed, type0, type0_size);
	memcpy(placed + type0_size, tables, size);
	memcpy(entry, anchor, anchor_size);
	if (!smbios_patch_entry(entry, anchor_size, (u32)(uptr)placed, type0_size + size,
				type0_size ? 1 : 0, (u16)type0_size)) {
		memset(entry, 0, anchor_size); /* never leave a half-made anchor to be found */
		warn("SMBIOS: unknown entry point format");
	}
}
