/*
 * SEED: what a guest restored from a saved state must not share with its
 * siblings. The wall clock stopped when the state was saved, and every guest
 * restored from it starts with the same RNG state; the cloud kernel has no
 * VMGENID to notice. The host sends its clock and fresh random bytes: the clock
 * is set, the bytes are mixed into the RNG and credited (RNDADDENTROPY). The
 * first credit initializes the CRNG from them. A state is saved after its first
 * SEED, so a restored guest's CRNG is initialized already and would go on from
 * the saved key until its next scheduled reseed: RNDRESEEDCRNG makes it take
 * the fresh bytes now.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "agent.h"

struct seed_header {
	uint64_t realtime_ns; /* the host's CLOCK_REALTIME */
} __attribute__((packed));
_Static_assert(sizeof(struct seed_header) == 8, "SEED header is 8 bytes");

static int add_entropy(int urandom, const uint8_t *bytes, uint32_t len, char *err, size_t errlen)
{
	struct {
		struct rand_pool_info info;
		uint8_t buf[MAX_SEED];
	} pool;
	int rc;

	pool.info.entropy_count = (int)len * 8;
	pool.info.buf_size = (int)len;
	memcpy(pool.buf, bytes, len);
	rc = ioctl(urandom, RNDADDENTROPY, &pool.info);
	explicit_bzero(&pool, sizeof(pool));
	if (rc < 0) {
		snprintf(err, errlen, "RNDADDENTROPY: %s", strerror(errno));
		return -1;
	}
	/* ENODATA: not initialized yet, which a credit this size does itself. */
	if (ioctl(urandom, RNDRESEEDCRNG) < 0 && errno != ENODATA) {
		snprintf(err, errlen, "RNDRESEEDCRNG: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int apply_seed(int urandom, const uint8_t *payload, uint32_t len, char *err, size_t errlen)
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
	return add_entropy(urandom, payload + sizeof(h), len - sizeof(h), err, errlen);
}
