/*
 * fw_cfg access. With DMA (QEMU 2.5+) a transfer of any size costs one
 * port write: the descriptor address goes to the low half of the DMA
 * register, the high half being zero after every transfer. Without DMA the
 * data port is read a byte at a time.
 */
#include "console.h"
#include "fw_cfg.h"
#include "io.h"
#include "scratch.h"
#include "string.h"

#define PORT_SELECTOR 0x510
#define PORT_DATA 0x511
#define PORT_DMA_HIGH 0x514
#define PORT_DMA_LOW 0x518

#define FW_CFG_ID_DMA (1 << 1)
#define DMA_CTL_ERROR (1 << 0)
#define DMA_CTL_READ (1 << 1)
#define DMA_CTL_SKIP (1 << 2)
#define DMA_CTL_SELECT (1 << 3)
#define DMA_CTL_WRITE (1 << 4)

struct fw_cfg_dma {
	u32 be_control;
	u32 be_length;
	u64 be_address;
} __packed __aligned(16);

#define FW_CFG_MAX_FILES 4096 /* QEMU has a few dozen; this only bounds nonsense */

static bool use_dma;
static struct fw_cfg_dir directory;

static u32 dma_select(u16 key)
{
	return ((u32)key << 16) | DMA_CTL_SELECT;
}

static void dma_transfer(u32 control, void *buf, u32 len)
{
	struct fw_cfg_dma dma = {
		.be_control = be32(control),
		.be_length = be32(len),
		.be_address = be64((uptr)buf),
	};

	/* The descriptor lives on the stack, below 4 GiB: the low half starts it. */
	outl(PORT_DMA_LOW, be32((uptr)&dma));
	/* QEMU completes synchronously; the loop is for a device that would not. */
	while (be32(*(volatile u32 *)&dma.be_control) & ~DMA_CTL_ERROR)
		;
	if (be32(dma.be_control) & DMA_CTL_ERROR)
		fatal("fw_cfg DMA error on item %x", control >> 16);
}

void fw_cfg_read(u16 key, void *buf, u32 len)
{
	if (use_dma) {
		dma_transfer(dma_select(key) | DMA_CTL_READ, buf, len);
		return;
	}
	outw(PORT_SELECTOR, key);
	for (u8 *p = buf; len; len--)
		*p++ = inb(PORT_DATA);
}

u32 fw_cfg_read32(u16 key)
{
	u32 v = 0;

	fw_cfg_read(key, &v, sizeof(v));
	return v;
}

void fw_cfg_write_at(u16 key, u32 offset, const void *buf, u32 len)
{
	if (!use_dma)
		fatal("fw_cfg write to item %x needs DMA", key);
	/* Select and move to offset, then write where the first left off. */
	dma_transfer(dma_select(key) | DMA_CTL_SKIP, NULL, offset);
	dma_transfer(DMA_CTL_WRITE, (void *)buf, len);
}

void fw_cfg_init(void)
{
	/* The DMA register reads "QEMU CFG" where it exists: one access tells,
	 * where the port path would take five to read the ID. */
	u32 dma_signature = inl(PORT_DMA_HIGH);
	char sig[4];

	use_dma = !memcmp(&dma_signature, "QEMU", 4);
	fw_cfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	if (memcmp(sig, "QEMU", 4))
		fatal("no QEMU fw_cfg device at port 0x510");
	if (use_dma && !(fw_cfg_read32(FW_CFG_ID) & FW_CFG_ID_DMA))
		use_dma = false; /* a register that looks right on a device that says no */
}

const struct fw_cfg_file *fw_cfg_dir_find(const struct fw_cfg_dir *dir, const char *name)
{
	for (u32 i = 0; i < dir->count; i++)
		if (!strncmp(dir->files[i].name, name, FW_CFG_MAX_FILE_PATH))
			return &dir->files[i];
	return NULL;
}

const struct fw_cfg_dir *fw_cfg_directory(void)
{
	if (!directory.files) {
		u32 count = be32(fw_cfg_read32(FW_CFG_FILE_DIR));
		u32 *buf;

		if (count > FW_CFG_MAX_FILES)
			fatal("fw_cfg directory claims %u files", count);
		buf = scratch_alloc(4 + count * sizeof(struct fw_cfg_file));

		/* Read count and entries together: the item is one stream. */
		fw_cfg_read(FW_CFG_FILE_DIR, buf, 4 + count * sizeof(struct fw_cfg_file));
		directory.count = count;
		directory.files = (const struct fw_cfg_file *)(buf + 1);
	}
	return &directory;
}

void *fw_cfg_load_file(const char *name, u32 *size)
{
	const struct fw_cfg_file *f = fw_cfg_dir_find(fw_cfg_directory(), name);
	void *buf;

	if (!f)
		return NULL;
	*size = be32(f->be_size);
	buf = scratch_alloc(*size);
	fw_cfg_read(be16(f->be_select), buf, *size);
	return buf;
}
