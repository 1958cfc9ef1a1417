/*
 * The minibios guest agent, run as /init: sets up the guest, tells the host it
 * is ready over a virtio-serial port, then runs the commands the host sends,
 * one at a time, forwarding stdin/stdout/stderr and the exit status as frames
 * (docs/agent-protocol.md). Static, so the initramfs needs no libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MODULE_LIST "/etc/minibios/modules"
#define PORT_TIMEOUT_MS 30000
#define STDIN_LIMIT (1 << 20) /* unread stdin we hold before we stop reading the port */
#define DRAIN_MS 1000	     /* after the command exits, how long its pipes may stay open */

struct command {
	pid_t pid;		/* 0: no command */
	int out, err, in;	/* our pipe ends, -1 when closed */
	char *queue;		/* stdin not yet written to the command */
	size_t queued, sent;
	int stdin_eof;		/* the host sent end of file */
	int exited, status;
	uint64_t exit_ns;
};

struct agent {
	int port, sigfd;
	int urandom;		/* opened at start: SEED takes no path lookup after a restore */
	int host_mounts;	/* something from the host is mounted: sync before EXIT */
	uint64_t init_ns;	/* CLOCK_BOOTTIME when /init started */
	char root[sizeof(ROOT_DIR)];
	struct frame_reader in;
	struct command cmd;
	struct spawner spawner;
};

static void drop_stdin(struct command *c)
{
	close_fd(&c->in);
	free(c->queue);
	c->queue = NULL;
	c->queued = c->sent = 0;
}

static void start_command(struct agent *a, uint8_t *payload, uint32_t len)
{
	struct command *c = &a->cmd;
	struct spawned run;
	char err[256];

	if (c->pid) {
		send_error(a->port, "a command is already running");
		return;
	}
	if (spawner_start(&a->spawner, payload, len, a->root, &run, err, sizeof(err)) < 0) {
		send_error(a->port, "%s", err);
		return;
	}
	*c = (struct command){ .pid = run.pid, .out = run.out, .err = run.err, .in = run.in };
}

static void queue_stdin(struct command *c, const uint8_t *data, uint32_t len)
{
	if (!c->pid || c->in < 0 || c->stdin_eof)
		return; /* late input for a finished command: dropped */
	if (len == 0) {
		c->stdin_eof = 1;
		if (c->queued == c->sent)
			drop_stdin(c);
		return;
	}
	if (c->sent) {
		memmove(c->queue, c->queue + c->sent, c->queued - c->sent);
		c->queued -= c->sent;
		c->sent = 0;
	}
	char *grown = realloc(c->queue, c->queued + len);

	if (!grown)
		die("out of memory for stdin");
	c->queue = grown;
	memcpy(c->queue + c->queued, data, len);
	c->queued += len;
}

static void feed_stdin(struct command *c)
{
	ssize_t n = write(c->in, c->queue + c->sent, c->queued - c->sent);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop_stdin(c); /* EPIPE: the command closed its stdin */
		return;
	}
	c->sent += (size_t)n;
	if (c->sent == c->queued) {
		c->sent = c->queued = 0;
		if (c->stdin_eof)
			drop_stdin(c);
	}
}

/* READY: at boot, and again as the answer to PING (a VM resumed later is alive). */
static void send_ready(struct agent *a)
{
	struct {
		uint32_t version;
		uint64_t init_ns, ready_ns;
	} __attribute__((packed)) ready = { PROTOCOL_VERSION, a->init_ns, boottime_ns() };
	_Static_assert(sizeof(ready) == 20, "READY payload is 20 bytes");

	send_frame(a->port, F_READY, &ready, sizeof(ready));
}

static void handle_request(struct agent *a, uint8_t type, uint8_t *payload, uint32_t len)
{
	char err[512];
	struct fields f;
	int ok;

	switch (type) {
	case F_RUN:
		start_command(a, payload, len);
		return;
	case F_STDIN:
		queue_stdin(&a->cmd, payload, len);
		return;
	case F_SIGNAL:
		if (len == 4 && a->cmd.pid && !a->cmd.exited)
			kill(-a->cmd.pid, (int)(payload[0] | payload[1] << 8));
		return;
	case F_MOUNT:
	case F_ROOT:
		if (parse_fields(payload, len, &f) < 0 || !field(&f, 't') ||
		    (type == F_MOUNT && (!field(&f, 'p') || !field(&f, 'o')))) {
			send_error(a->port, "malformed request 0x%02x", type);
			return;
		}
		if (type == F_ROOT) {
			ok = setup_root(field(&f, 't'), err, sizeof(err)) == 0;
			if (ok)
				strcpy(a->root, ROOT_DIR);
		} else {
			ok = mount_share(a->root, field(&f, 't'), field(&f, 'p'),
					 strcmp(field(&f, 'o'), "ro") == 0, err, sizeof(err)) == 0;
		}
		a->host_mounts |= ok;
		if (ok)
			send_frame(a->port, F_DONE, NULL, 0);
		else
			send_frame(a->port, F_ERROR, err, strlen(err));
		return;
	case F_PING:
		send_ready(a);
		return;
	case F_SEED:
		if (apply_seed(a->urandom, payload, len, err, sizeof(err)) == 0)
			send_frame(a->port, F_DONE, NULL, 0);
		else
			send_frame(a->port, F_ERROR, err, strlen(err));
		return;
	case F_POWEROFF:
		sync();
		reboot(RB_POWER_OFF);
		die("power off: %s", strerror(errno));
	default:
		die("unexpected frame type 0x%02x from the host", type);
	}
}

static void read_port(struct agent *a)
{
	struct frame_reader *r = &a->in;
	ssize_t n = read(a->port, r->buf + r->used, sizeof(r->buf) - r->used);
	uint8_t type, *payload;
	uint32_t len;

	if (n == 0) { /* the host is not connected (yet, or any more): wait for it */
		const struct timespec pause = { 0, 50 * 1000 * 1000 };

		nanosleep(&pause, NULL);
		return;
	}
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN)
			die("read from the host port: %s", strerror(errno));
		return;
	}
	r->used += (size_t)n;
	while (next_frame(r, &type, &payload, &len)) {
		handle_request(a, type, payload, len);
		consume_frame(r);
	}
}

/* A command that could not even start (not found, bad cwd): its child says why here. */
static void report_failure(struct agent *a)
{
	char msg[512];
	int n = spawner_failure(&a->spawner, msg, sizeof(msg));

	if (n > 0)
		send_frame(a->port, F_STDERR, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

static void reap(struct agent *a)
{
	struct signalfd_siginfo info;
	int status;
	pid_t pid;

	while (read(a->sigfd, &info, sizeof(info)) > 0)
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (spawner_reaped(&a->spawner, pid) || pid != a->cmd.pid || a->cmd.exited)
			continue;
		a->cmd.exited = 1;
		a->cmd.status = status;
		a->cmd.exit_ns = boottime_ns();
		/* Nothing the command started outlives it into the next one. */
		kill(-pid, SIGKILL);
		drop_stdin(&a->cmd);
		report_failure(a);
	}
}

static void forward_output(struct agent *a, int *fd, int type)
{
	static uint8_t buf[MAX_PAYLOAD];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0)
		send_frame(a->port, type, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		close_fd(fd);
}

static void finish_command(struct agent *a)
{
	struct command *c = &a->cmd;
	struct {
		uint8_t kind, pad[3];
		int32_t value;
		uint64_t ns;
	} __attribute__((packed)) ex = { 0 };
	_Static_assert(sizeof(ex) == 16, "EXIT payload is 16 bytes");

	close_fd(&c->out);
	close_fd(&c->err);
	drop_stdin(c);
	if (a->host_mounts)
		sync(); /* writes to shared directories reach the host before it hears EXIT */
	ex.kind = WIFSIGNALED(c->status) ? 1 : 0;
	ex.value = WIFSIGNALED(c->status) ? WTERMSIG(c->status) : WEXITSTATUS(c->status);
	ex.ns = c->exit_ns;
	send_frame(a->port, F_EXIT, &ex, sizeof(ex));
	*c = (struct command){ .out = -1, .err = -1, .in = -1 };
	spawner_prepare(&a->spawner); /* on failure the next RUN tries again, and says why */
}

static void serve(struct agent *a)
{
	struct command *c = &a->cmd;

	for (;;) {
		struct pollfd p[5] = {
			{ .fd = a->port, .events = c->queued - c->sent < STDIN_LIMIT ? POLLIN : 0 },
			{ .fd = a->sigfd, .events = POLLIN },
			{ .fd = c->out, .events = POLLIN },
			{ .fd = c->err, .events = POLLIN },
			{ .fd = c->queued > c->sent ? c->in : -1, .events = POLLOUT },
		};
		int timeout = -1;

		if (c->exited) {
			uint64_t since = (boottime_ns() - c->exit_ns) / 1000000;

			if ((c->out < 0 && c->err < 0) || since >= DRAIN_MS) {
				finish_command(a);
				continue;
			}
			timeout = (int)(DRAIN_MS - since);
		}
		if (poll(p, 5, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (p[1].revents)
			reap(a);
		if (p[2].revents)
			forward_output(a, &c->out, F_STDOUT);
		if (p[3].revents)
			forward_output(a, &c->err, F_STDERR);
		if (p[4].revents && c->in >= 0)
			feed_stdin(c);
		if (p[0].revents)
			read_port(a);
	}
}

int main(void)
{
	static struct agent a = { .cmd = { .out = -1, .err = -1, .in = -1 } };
	sigset_t chld;

	a.init_ns = boottime_ns();

	/* On the console (ttyS0): the host times the kernel's end by this line. */
	say("started");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	a.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a.sigfd < 0)
		die("signalfd: %s", strerror(errno));
	strcpy(a.root, "/");
	mount_basics();
	load_modules(MODULE_LIST);
	a.urandom = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (a.urandom < 0)
		die("open /dev/urandom: %s", strerror(errno));
	a.port = open_port(PORT_NAME, PORT_TIMEOUT_MS);
	if (a.port < 0)
		die("no virtio-serial port named %s", PORT_NAME);
	spawner_init(&a.spawner);
	spawner_prepare(&a.spawner); /* before READY: a saved state holds it */
	send_ready(&a);
	serve(&a);
}
