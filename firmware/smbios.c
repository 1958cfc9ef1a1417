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

#define SMBIOS_TYPE_END 127
#define TYPE0_LENGTH 0x18
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
#define BIOS_CHAR_NOT_SUPPORTED (1 << 3)
#define BIOS_CHAR_EXT2_VIRTUAL_MACHINE (1 << 4)

bool smbios_has_type(const u8 *tables, u32 size, u8 type)
{
	u32 off = 0;

	while (off + 4 <= size) {
		u8 t = tables[off], len = tables[off + 1];

		if (t == type)
			return true;
		if (t == SMBIOS_TYPE_END || len < 4)
			return false;
		/* Skip the formatted area, then the strings up to the double NUL. */
		off += len;
		while (off + 1 < size && (tables[off] || tables[off + 1]))
			off++;
		off += 2;
	}
	return false;
}

u32 smbios_type0(u8 *buf, u32 room)
{
	u32 size = TYPE0_LENGTH + sizeof(TYPE0_STRINGS); /* the sizeof counts the final NUL */

	if (room < size)
		return 0;
	memset(buf, 0, TYPE0_LENGTH);
	buf[0x00] = 0;		 /* type */
	buf[0x01] = TYPE0_LENGTH;
	buf[0x02] = buf[0x03] = 0; /* handle 0: QEMU numbers its own from 0x100 */
	buf[0x04] = 1;		 /* vendor: string 1 */
	buf[0x05] = 2;		 /* version */
	buf[0x06] = 0x00;	 /* starting segment 0xf000 */
	buf[0x07] = 0xf0;
	buf[0x08] = 3;		 /* release date */
	buf[0x09] = 0;		 /* ROM size: (n + 1) * 64 KiB */
	buf[0x0a] = BIOS_CHAR_NOT_SUPPORTED;
	buf[0x13] = BIOS_CHAR_EXT2_VIRTUAL_MACHINE;
	buf[0x14] = MINIBIOS_MAJOR;
	buf[0x15] = MINIBIOS_MINOR;
	buf[0x16] = buf[0x17] = 0xff; /* no embedded controller */
	memcpy(buf + TYPE0_LENGTH, TYPE0_STRINGS, sizeof(TYPE0_STRINGS));
	return size;
}

static void put16(u8 *p, u16 v) { memcpy(p, &v, 2); }
static void put32(u8 *p, u32 v) { memcpy(p, &v, 4); }

static u16 get16(const u8 *p)
{
	u16 v;

	memcpy(&v, p, 2);
	return v;
}

bool smbios_patch_entry(u8 *entry, u32 entry_size, u32 addr, u32 len, u16 added,
			u16 max_struct)
{
	if (entry_size >= 0x1f && sig_is(entry, SIG_SM) && entry[5] == 0x1f) {
		if (len > 0xffff)
			return false;
		put16(entry + 0x08, MAX(get16(entry + 0x08), max_struct));
		put16(entry + 0x16, (u16)len);
		put32(entry + 0x18, addr);
		put16(entry + 0x1c, get16(entry + 0x1c) + added);
		entry[0x15] = 0;
		entry[0x15] = (u8)-checksum8(entry + 0x10, 0x0f); /* the _DMI_ part */
		entry[0x04] = 0;
		entry[0x04] = (u8)-checksum8(entry, 0x1f);
		return true;
	}
	if (entry_size >= 0x18 && sig_is(entry, SIG_SM3) &&
	    entry[4] == '_' && entry[6] == 0x18) {
		put32(entry + 0x0c, len);
		put32(entry + 0x10, addr);
		put32(entry + 0x14, 0); /* high half of the 64-bit address */
		entry[0x05] = 0;
		entry[0x05] = (u8)-checksum8(entry, 0x18);
		return true;
	}
	return false;
}

void smbios_setup(void)
{
	u32 anchor_size = 0, size = 0, type0_size = 0;
	const u8 *anchor = fw_cfg_load_file("etc/smbios/smbios-anchor", &anchor_size);
	const u8 *tables = fw_cfg_load_file("etc/smbios/smbios-tables", &size);
	u8 type0[TYPE0_LENGTH + sizeof(TYPE0_STRINGS)];
	u8 *entry, *placed;

	if (!anchor || !tables)
		return;
	if (!smbios_has_type(tables, size, 0))
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
