/*
 * The process a command runs in, cloned before the command arrives.
 *
 * A guest restored from a saved state starts with TCG's translation cache
 * empty: every kernel path it takes is translated before it runs, and fork's
 * are among the longest. So the agent clones the command's process while it
 * waits (before the state is saved, and again after each command). The child
 * shares the agent's memory (CLONE_VM, as vfork and posix_spawn do: no page
 * tables to copy, no copy-on-write faults afterwards) and blocks on a pipe;
 * for RUN the agent writes the command into that shared memory and one byte
 * into the pipe, and the child execs it. Until then the child runs on its own
 * stack and makes raw system calls only: glibc's wrappers would set errno in
 * the agent's thread-local storage, which it shares.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PATH_BYTES 4096

enum failure { FAIL_NONE, FAIL_CHROOT, FAIL_CD, FAIL_EXEC };

/* The kernel's struct sigaction for x86-64 (not glibc's). */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* A system call that leaves errno alone: the result, or -errno. */
static long raw_syscall(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw_execve(const char *path, char **argv, char **envp)
{
	return raw_syscall(SYS_execve, (long)path, (long)argv, (long)envp, 0);
}

/* A file that is not a program and has no #! line: run it with the shell, as execvp does. */
static long exec_or_shell(struct spawner *s, const char *path)
{
	long rc = raw_execve(path, s->argv, s->envp);

	if (rc != -ENOEXEC)
		return rc;
	s->shell_argv[1] = (char *)path;
	raw_execve("/bin/sh", s->shell_argv, s->envp);
	return rc;
}

/* execvp(3) in raw calls: returns the errno that ended the search. */
static long exec_search(struct spawner *s)
{
	const char *name = s->argv[0], *dir = s->path;
	size_t name_len = strlen(name);
	char candidate[PATH_BYTES];
	long rc, denied = 0;

	if (strchr(name, '/'))
		return -exec_or_shell(s, name);
	if (name_len == 0)
		return ENOENT;
	for (;;) {
		const char *end = strchrnul(dir, ':');
		size_t dir_len = (size_t)(end - dir);

		if (dir_len + 1 + name_len < sizeof(candidate)) {
			size_t at = 0;

			if (dir_len) { /* an empty PATH entry is the working directory */
				memcpy(candidate, dir, dir_len);
				candidate[dir_len] = '/';
				at = dir_len + 1;
			}
			memcpy(candidate + at, name, name_len + 1);
			rc = exec_or_shell(s, candidate);
			if (rc == -EACCES)
				denied = 1;
			else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ESTALE && rc != -ENODEV &&
				 rc != -ETIMEDOUT)
				return -rc;
		}
		if (*end == '\0')
			return denied ? EACCES : ENOENT;
		dir = end + 1;
	}
}

static int fail(struct spawner *s, enum failure what, long rc)
{
	s->failure = what;
	s->error = (int)-rc;
	return what == FAIL_EXEC && (rc == -ENOENT || rc == -ENOTDIR) ? 127 : 126;
}

/* The child: wait for the command, then become it. Exit codes as a shell's. */
static int run_child(void *arg)
{
	struct spawner *s = arg;
	struct kernel_sigaction dfl = { 0 };
	uint64_t none = 0;
	char go;
	long rc;

	if (raw_syscall(SYS_read, s->child_go, (long)&go, 1, 0) != 1)
		return 0; /* the agent let this one go unused */
	raw_syscall(SYS_setsid, 0, 0, 0, 0);
	raw_syscall(SYS_dup2, s->child_fds[0], 0, 0, 0);
	raw_syscall(SYS_dup2, s->child_fds[1], 1, 0, 0);
	raw_syscall(SYS_dup2, s->child_fds[2], 2, 0, 0);
	raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, sizeof(none));
	raw_syscall(SYS_rt_sigaction, SIGPIPE, (long)&dfl, 0, sizeof(dfl.mask));
	if (s->root) {
		rc = raw_syscall(SYS_chroot, (long)s->root, 0, 0, 0);
		if (rc == 0)
			rc = raw_syscall(SYS_chdir, (long)"/", 0, 0, 0);
		if (rc < 0)
			return fail(s, FAIL_CHROOT, rc);
	}
	if (s->workdir) {
		rc = raw_syscall(SYS_chdir, (long)s->workdir, 0, 0, 0);
		if (rc < 0)
			return fail(s, FAIL_CD, rc);
	}
	return fail(s, FAIL_EXEC, -exec_search(s));
}

void spawner_init(struct spawner *s)
{
	s->pid = 0;
	s->go = -1;
	for (int i = 0; i < 3; i++)
		s->fds[i] = -1;
}

/* Our ends; the child's were closed here as soon as it had its copies. */
static void close_ours(struct spawner *s)
{
	close_fd(&s->go);
	for (int i = 0; i < 3; i++)
		close_fd(&s->fds[i]);
}

int spawner_prepare(struct spawner *s)
{
	/* go, stdin, stdout, stderr: which end is whose; the child reads two of them */
	static const int we_read[4] = { 0, 0, 1, 1 };
	int ours[4], theirs[4], made = 0;
	pid_t pid = -1;
	int saved_errno;

	if (s->pid)
		return 0;
	for (; made < 4; made++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			break;
		ours[made] = p[we_read[made] ? 0 : 1];
		theirs[made] = p[we_read[made] ? 1 : 0];
	}
	if (made == 4) {
		/* Written before the child exists and not again until it is gone: it reads
		 * them whenever it gets to run. */
		s->child_go = theirs[0];
		for (int i = 0; i < 3; i++)
			s->child_fds[i] = theirs[1 + i];
		s->failure = FAIL_NONE;
		pid = clone(run_child, s->stack + sizeof(s->stack), CLONE_VM | SIGCHLD, s);
	}
	saved_errno = errno;
	for (int i = 0; i < made; i++) {
		close(theirs[i]); /* the child has its own copies (no CLONE_FILES) */
		if (pid < 0)
			close(ours[i]);
	}
	if (pid < 0) {
		errno = saved_errno;
		return -1;
	}
	s->pid = pid;
	s->go = ours[0];
	for (int i = 0; i < 3; i++)
		s->fds[i] = ours[1 + i];
	fcntl(s->fds[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Start the waiting child; one that died unnoticed (EPIPE) is replaced once. */
static int go(struct spawner *s)
{
	for (int tries = 0; tries < 2; tries++) {
		if (spawner_prepare(s) < 0)
			return -1;
		if (write(s->go, "", 1) == 1)
			return 0;
		if (errno != EPIPE)
			return -1;
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		close_ours(s);
	}
	return -1;
}

int spawner_start(struct spawner *s, const uint8_t *payload, uint32_t len, const char *root,
		  struct spawned *out, char *err, size_t errlen)
{
	struct fields *f = &s->fields;
	int argc = 0, envc = 0;

	if (len > sizeof(s->payload)) {
		snprintf(err, errlen, "RUN request of %u bytes", len);
		return -1;
	}
	memcpy(s->payload, payload, len);
	if (parse_fields(s->payload, len, f) < 0 || !field(f, 'a')) {
		snprintf(err, errlen, "malformed RUN request");
		return -1;
	}
	s->path = DEFAULT_PATH;
	for (int i = 0; i < f->count; i++) {
		if (f->keys[i] == 'a') {
			s->argv[argc] = f->values[i];
			s->shell_argv[1 + argc++] = f->values[i];
		} else if (f->keys[i] == 'e') {
			s->envp[envc++] = f->values[i];
			if (strncmp(f->values[i], "PATH=", 5) == 0)
				s->path = f->values[i] + 5;
		}
	}
	s->argv[argc] = s->shell_argv[1 + argc] = NULL;
	s->shell_argv[0] = "/bin/sh";
	s->envp[envc] = NULL;
	s->root = strcmp(root, "/") ? root : NULL;
	s->workdir = field(f, 'w');
	if (go(s) < 0) {
		snprintf(err, errlen, "starting the command: %s", strerror(errno));
		return -1;
	}
	*out = (struct spawned){ .pid = s->pid, .in = s->fds[0], .out = s->fds[1], .err = s->fds[2] };
	/* The pipes are the command's now; the next one gets its own. */
	s->fds[0] = s->fds[1] = s->fds[2] = -1;
	s->pid = 0;
	close_fd(&s->go);
	return 0;
}

int spawner_reaped(struct spawner *s, pid_t pid)
{
	if (!s->pid || pid != s->pid)
		return 0;
	/* Killed while it waited (`kill -9 -1` in a command): the next RUN clones another. */
	s->pid = 0;
	close_ours(s);
	return 1;
}

int spawner_failure(const struct spawner *s, char *msg, size_t len)
{
	const char *what = s->argv[0];

	switch (s->failure) {
	case FAIL_CHROOT:
		return snprintf(msg, len, "minibios: chroot %s: %s\n", s->root, strerror(s->error));
	case FAIL_CD:
		return snprintf(msg, len, "minibios: cd %s: %s\n", s->workdir, strerror(s->error));
	case FAIL_EXEC:
		return snprintf(msg, len, "minibios: %s: %s\n", what, strerror(s->error));
	default:
		return 0;
	}
}
