/* Framing on the virtio-serial port, and small helpers shared by the agent. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("minibios-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("minibios-agent: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	/* As PID 1 our exit panics the kernel; with panic=-1 and -no-reboot QEMU ends. */
	exit(1);
}

/* Close *fd if open, and mark it closed. */
void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The port accepts at most 32 KiB per write; loop until everything is out. */
static void write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t done = writev(fd, iov, n);

		if (done < 0) {
			if (errno == EINTR)
				continue;
			die("write to the host port: %s", strerror(errno));
		}
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
}

void send_frame(int port, int type, const void *payload, size_t len)
{
	struct frame_header h = {
		.magic = { FRAME_MAGIC0, FRAME_MAGIC1 },
		.type = (uint8_t)type,
		.flags = 0,
		.length = (uint32_t)len,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};

	write_all(port, iov, len ? 2 : 1);
}

void send_error(int port, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_frame(port, F_ERROR, msg, strlen(msg));
}

int next_frame(struct frame_reader *r, uint8_t *type, uint8_t **payload, uint32_t *len)
{
	struct frame_header h;

	if (r->used < HEADER_SIZE)
		return 0;
	memcpy(&h, r->buf, sizeof(h));
	if (h.magic[0] != FRAME_MAGIC0 || h.magic[1] != FRAME_MAGIC1 || h.flags != 0 ||
	    h.length > MAX_PAYLOAD)
		die("bad frame from the host (type 0x%02x, length %u)", h.type, h.length);
	if (r->used < HEADER_SIZE + h.length)
		return 0;
	*type = h.type;
	*payload = r->buf + HEADER_SIZE;
	*len = h.length;
	return 1;
}

void consume_frame(struct frame_reader *r)
{
	struct frame_header h;
	size_t size;

	memcpy(&h, r->buf, sizeof(h));
	size = HEADER_SIZE + h.length;
	memmove(r->buf, r->buf + size, r->used - size);
	r->used -= size;
}

/* "k value\0" records; values are NUL-terminated in place. Returns -1 if malformed. */
int parse_fields(uint8_t *payload, uint32_t len, struct fields *out)
{
	uint32_t pos = 0;

	out->count = 0;
	if (len && payload[len - 1] != '\0')
		return -1;
	while (pos < len) {
		size_t n = strlen((char *)payload + pos);

		if (n == 0 || out->count == MAX_FIELDS)
			return -1;
		out->keys[out->count] = (char)payload[pos];
		out->values[out->count] = (char *)payload + pos + 1;
		out->count++;
		pos += (uint32_t)n + 1;
	}
	return 0;
}

const char *field(const struct fields *f, char key)
{
	for (int i = 0; i < f->count; i++)
		if (f->keys[i] == key)
			return f->values[i];
	return NULL;
}
