/* Boot-time setup (mounts, modules, the host port) and the ROOT/MOUNT requests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define HOST_DIR "/run/minibios/host"
#define RW_DIR "/run/minibios/rw"

static void mount_or_say(const char *src, const char *dst, const char *type, unsigned long flags,
			 const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dst, strerror(errno));
}

void mount_basics(void)
{
	mount_or_say("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_say("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_say("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
	mount_or_say("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	mount_or_say("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* One module file name per line, under /lib/modules, in load order. */
void load_modules(const char *list)
{
	char line[256], path[300];
	FILE *f = fopen(list, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(path, sizeof(path), "/lib/modules/%s", line);
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			say("open %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("load %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(f);
}

/* The /dev/vportNpM whose sysfs name is `name`, or -1. */
static int try_open_port(const char *name)
{
	char path[300], value[128];
	struct dirent *de;
	DIR *dir = opendir("/sys/class/virtio-ports");
	int fd = -1;

	if (!dir)
		return -1;
	while (fd < 0 && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
		int nf = open(path, O_RDONLY | O_CLOEXEC);

		if (nf < 0)
			continue;
		ssize_t n = read(nf, value, sizeof(value) - 1);

		close(nf);
		if (n <= 0)
			continue;
		value[n] = '\0';
		value[strcspn(value, "\n")] = '\0';
		if (strcmp(value, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	closedir(dir);
	return fd;
}

/* The port appears once the host's "port add" control message is handled. */
int open_port(const char *name, int timeout_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		int fd = try_open_port(name);

		if (fd >= 0)
			return fd;
		nanosleep(&tick, NULL);
	}
	return -1;
}

static int mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/*
 * A hot-plugged virtiofs device (a restored VM's shares) is probed after the host's
 * device_add returns, so its tag may not exist yet: the kernel then says EINVAL
 * ("tag not found", in the kernel log only). Retry every few ms for a while; any
 * other error is final. (The driver's sysfs link appears before its probe ends, so it
 * cannot tell when the tag is there.)
 */
static int mount_virtiofs(const char *tag, const char *dst, unsigned long flags)
{
	const struct timespec tick = { 0, 5 * 1000 * 1000 };
	uint64_t deadline = boottime_ns() + (uint64_t)TAG_WAIT_MS * 1000000;

	for (;;) {
		if (mount(tag, dst, "virtiofs", flags, NULL) == 0)
			return 0;
		if (errno != EINVAL || boottime_ns() > deadline)
			return -1;
		nanosleep(&tick, NULL);
	}
}

#define FAIL(...)                                          \
	do {                                               \
		snprintf(err, errlen, __VA_ARGS__);        \
		return -1;                                 \
	} while (0)

/*
 * The host's tree (read-only) under a tmpfs overlay, with the guest's own /proc,
 * /sys, /dev and /run. /tmp stays the host's, behind the overlay like the rest:
 * a command started in a directory there (the launcher passes its own working
 * directory) must find it, and its writes stay in the guest.
 */
int setup_root(const char *tag, char *err, size_t errlen)
{
	static const char *const fresh[][3] = {
		{ "proc", "/proc", "proc" },
		{ "sysfs", "/sys", "sysfs" },
		{ "devtmpfs", "/dev", "devtmpfs" },
		{ "tmpfs", "/run", "tmpfs" },
	};
	char path[256];

	if (mkdirs(HOST_DIR) || mkdirs(RW_DIR) || mkdirs(ROOT_DIR))
		FAIL("mkdir under /run/minibios: %s", strerror(errno));
	if (mount_virtiofs(tag, HOST_DIR, MS_RDONLY) < 0)
		FAIL("mount virtiofs %s: %s", tag, strerror(errno));
	if (mount("tmpfs", RW_DIR, "tmpfs", 0, "mode=0755") < 0)
		FAIL("mount tmpfs for the overlay: %s", strerror(errno));
	if (mkdirs(RW_DIR "/upper") || mkdirs(RW_DIR "/work"))
		FAIL("mkdir in the overlay tmpfs: %s", strerror(errno));
	if (mount("overlay", ROOT_DIR, "overlay", 0,
		  "lowerdir=" HOST_DIR ",upperdir=" RW_DIR "/upper,workdir=" RW_DIR "/work") < 0)
		FAIL("mount the overlay root: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", ROOT_DIR, fresh[i][1]);
		mkdirs(path);
		if (mount(fresh[i][0], path, fresh[i][2], 0, NULL) < 0)
			FAIL("mount %s on %s: %s", fresh[i][2], path, strerror(errno));
	}
	return 0;
}

int mount_share(const char *root, const char *tag, const char *path, int readonly, char *err,
		size_t errlen)
{
	char full[4096];

	if (path[0] != '/')
		FAIL("share path %s is not absolute", path);
	snprintf(full, sizeof(full), "%s%s", strcmp(root, "/") ? root : "", path);
	if (mkdirs(full) < 0)
		FAIL("mkdir %s: %s", path, strerror(errno));
	if (mount_virtiofs(tag, full, readonly ? MS_RDONLY : 0) < 0)
		FAIL("mount virtiofs %s on %s: %s", tag, path, strerror(errno));
	return 0;
}
