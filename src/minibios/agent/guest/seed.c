/*
 * SEED: what a guest restored from a saved state must not share with its
 * siblings. The wall clock stopped when the state was saved, and every guest
 * restored from it starts with the same RNG state; the cloud kernel has no
 * VMGENID to notice. The host sends its clock and fresh random bytes: the clock
 * is set, the bytes are mixed into the RNG and credited (RNDADDENTROPY), so the
 * kernel reseeds its CRNG from them rather than merely stirring them in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

struct seed_header {
	uint64_t realtime_ns; /* the host's CLOCK_REALTIME */
} __attribute__((packed));
_Static_assert(sizeof(struct seed_header) == 8, "SEED header is 8 bytes");

static int add_entropy(const uint8_t *bytes, uint32_t len, char *err, size_t errlen)
{
	struct {
		struct rand_pool_info info;
		uint8_t buf[MAX_SEED];
	} pool;
	int fd, rc;

	pool.info.entropy_count = (int)len * 8;
	pool.info.buf_size = (int)len;
	memcpy(pool.buf, bytes, len);
	fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open /dev/urandom: %s", strerror(errno));
		return -1;
	}
	rc = ioctl(fd, RNDADDENTROPY, &pool.info);
	if (rc < 0)
		snprintf(err, errlen, "RNDADDENTROPY: %s", strerror(errno));
	close(fd);
	explicit_bzero(&pool, sizeof(pool));
	return rc;
}

int apply_seed(const uint8_t *payload, uint32_t len, char *err, size_t errlen)
{
	struct seed_header h;
	struct timespec now;

	if (len < sizeof(h) + MIN_SEED || len > sizeof(h) + MAX_SEED) {
		snprintf(err, errlen, "SEED payload of %u bytes", len);
		return -1;
	}
	memcpy(&h, payload, sizeof(h));
	now.tv_sec = (time_t)(h.realtime_ns / 1000000000u);
	now.tv_nsec = (long)(h.realtime_ns % 1000000000u);
	if (clock_settime(CLOCK_REALTIME, &now) < 0) {
		snprintf(err, errlen, "clock_settime: %s", strerror(errno));
		return -1;
	}
	return add_entropy(payload + sizeof(h), len - sizeof(h), err, errlen);
}
