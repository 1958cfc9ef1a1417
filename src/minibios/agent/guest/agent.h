/* The minibios guest agent: shared declarations (docs/agent-protocol.md). */
#ifndef MINIBIOS_AGENT_H
#define MINIBIOS_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PORT_NAME "org.minibios.agent"
#define PROTOCOL_VERSION 1
#define FRAME_MAGIC0 'M'
#define FRAME_MAGIC1 'X'
#define HEADER_SIZE 8
#define MAX_PAYLOAD 65536
#define MAX_FIELDS 4096
#define ROOT_DIR "/run/minibios/root"
#define MIN_SEED 32  /* SEED's random bytes: at least 256 bits */
#define MAX_SEED 512
#define TAG_WAIT_MS 10000 /* how long ROOT/MOUNT wait for a hot-plugged tag */

enum frame_type {
	F_READY = 0x01,
	F_STDOUT = 0x02,
	F_STDERR = 0x03,
	F_EXIT = 0x04,
	F_ERROR = 0x05,
	F_DONE = 0x06,
	F_RUN = 0x10,
	F_STDIN = 0x11,
	F_SIGNAL = 0x12,
	F_MOUNT = 0x13,
	F_ROOT = 0x14,
	F_POWEROFF = 0x15,
	F_PING = 0x16,
	F_SEED = 0x17,
};

struct frame_header {
	uint8_t magic[2];
	uint8_t type;
	uint8_t flags;
	uint32_t length; /* little endian: x86 guests only */
} __attribute__((packed));
_Static_assert(sizeof(struct frame_header) == HEADER_SIZE, "frame header is 8 bytes");

/* Frames arriving from the host, reassembled from port reads. */
struct frame_reader {
	uint8_t buf[HEADER_SIZE + MAX_PAYLOAD];
	size_t used;
};

/* A decoded request: pointers into the frame payload (NUL-terminated values). */
struct fields {
	int count;
	char keys[MAX_FIELDS];
	char *values[MAX_FIELDS];
};

/* frame.c */
void send_frame(int port, int type, const void *payload, size_t len);
void send_error(int port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns 1 and the frame when one is complete, 0 when more bytes are needed. */
int next_frame(struct frame_reader *r, uint8_t *type, uint8_t **payload, uint32_t *len);
void consume_frame(struct frame_reader *r);
int parse_fields(uint8_t *payload, uint32_t len, struct fields *out);
const char *field(const struct fields *f, char key);
uint64_t boottime_ns(void);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* setup.c */
void mount_basics(void);
void load_modules(const char *list);
int open_port(const char *name, int timeout_ms);
int setup_root(const char *tag, char *err, size_t errlen);
int mount_share(const char *root, const char *tag, const char *path, int readonly, char *err,
		size_t errlen);

/* seed.c */
int apply_seed(int urandom, const uint8_t *payload, uint32_t len, char *err, size_t errlen);

#endif
