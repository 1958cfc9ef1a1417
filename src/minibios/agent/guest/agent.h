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
void close_fd(int *fd);
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

/* spawn.c: the command's process, cloned ahead of its RUN. The child reads the
 * command from this struct (it shares the agent's memory) once `go` is written. */
struct spawner {
	pid_t pid;			/* the waiting child; 0: none */
	int go;				/* one byte down this pipe starts it */
	int fds[3];			/* our ends of its stdin, stdout, stderr */
	int child_go, child_fds[3];	/* the child's ends, for it to read: ours are closed */
	uint8_t payload[MAX_PAYLOAD];	/* the RUN request, which argv and envp point into */
	struct fields fields;
	char *argv[MAX_FIELDS + 1], *envp[MAX_FIELDS + 1];
	char *shell_argv[MAX_FIELDS + 2]; /* /bin/sh FILE ARGS, for a file that is no program */
	const char *path, *root, *workdir; /* root: NULL when the agent's own */
	int failure, error;		/* written by a child that could not exec */
	char stack[65536] __attribute__((aligned(16)));
};

struct spawned {
	pid_t pid;
	int in, out, err; /* our ends: stdin to write, stdout and stderr to read */
};

void spawner_init(struct spawner *s);
/* Clone the waiting child, if there is none; -1 with errno. */
int spawner_prepare(struct spawner *s);
/* Hand the RUN request to the waiting child (cloning one first if needed). */
int spawner_start(struct spawner *s, const uint8_t *payload, uint32_t len, const char *root,
		  struct spawned *out, char *err, size_t errlen);
/* A reaped pid: 1 if it was the waiting child (it died unused). */
int spawner_reaped(struct spawner *s, pid_t pid);
/* After the command exited: why it never ran, as a line for its stderr (0: it ran). */
int spawner_failure(const struct spawner *s, char *msg, size_t len);

#endif
