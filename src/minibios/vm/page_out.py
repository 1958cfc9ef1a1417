"""Take QEMU's second copy of the kernel file out of its resident set (issue 13).

QEMU's ELF loader (`-kernel vmlinux`, the PVH route) maps the file and keeps the mapping
for the VM's lifetime: ROM blobs aimed at RAM are kept to be copied again on every reset
(only blobs aimed at real ROM are freed after the first). The first reset's copy faults
every loaded page of the file into QEMU (~33 MiB for the Debian cloud kernel), beside the
copy in guest RAM, and they stay counted in its RSS until it exits.

They are clean file pages: MADV_PAGEOUT, given to QEMU's address space from outside
through process_madvise(2) (Linux 5.10; the caller needs CAP_SYS_NICE), unmaps and
reclaims them, and a later reset reads them back from the file. The kernel skips pages
another process maps too (other VMs booting the same file: they are shared already).
Reclaiming also drops them from the page cache, so the file is then read ahead again
(POSIX_FADV_WILLNEED, asynchronous): the next VM booting it finds it cached again.
The file stays in the host's page cache, shared and reclaimable, as any file read does;
what leaves is QEMU's private claim on it. Where the call is refused, nothing changes.
"""

import ctypes
import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path

# New system calls have one number on every architecture (since Linux 5.1's 424).
SYS_PROCESS_MADVISE = 440
MADV_PAGEOUT = 21
# process_madvise(2) takes at most IOV_MAX ranges per call.
IOV_MAX = 1024
# POSIX_FADV_WILLNEED reads at most the readahead window (128 KiB by default) a call.
READ_AHEAD_CHUNK = 128 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def file_mappings(maps_text: str, path: Path) -> list[Mapping]:
    """The ranges of /proc/PID/maps text that map `path` (as the kernel names it)."""
    wanted = str(path.resolve())
    found = []
    for line in maps_text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == wanted:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            found.append(Mapping(start, end))
    return found


def page_out(pid: int, ranges: list[Mapping]) -> int:
    """MADV_PAGEOUT for `ranges` of process `pid`; bytes advised. Raises OSError."""
    if not ranges:
        return 0
    if len(ranges) > IOV_MAX:
        raise OSError(errno.E2BIG, f"{len(ranges)} ranges, at most {IOV_MAX}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    iov = (_Iovec * len(ranges))(*(_Iovec(r.start, r.size) for r in ranges))
    pidfd = os.pidfd_open(pid)
    try:
        done = libc.syscall(
            ctypes.c_long(SYS_PROCESS_MADVISE),
            ctypes.c_int(pidfd),
            iov,
            ctypes.c_size_t(len(ranges)),
            ctypes.c_int(MADV_PAGEOUT),
            ctypes.c_uint(0),
        )
        if done < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"process_madvise(MADV_PAGEOUT): {os.strerror(err)}")
        return int(done)
    finally:
        os.close(pidfd)


def page_out_file(pid: int, path: Path) -> int | None:
    """Take `path`'s pages out of process `pid`'s resident set; bytes advised, None if refused.

    Best effort: a kernel without process_madvise, a caller without CAP_SYS_NICE or a
    process already gone only leave the RSS as it was.
    """
    try:
        ranges = file_mappings(Path(f"/proc/{pid}/maps").read_text(), path)
        done = page_out(pid, ranges)
        if done:
            _read_ahead(path)
    except OSError as exc:
        log.info("kept QEMU's copy of %s resident: %s", path, exc.strerror or exc)
        return None
    log.info("paged out QEMU's copy of %s: %d mapping(s), %d bytes", path, len(ranges), done)
    return done


def _read_ahead(path: Path) -> None:
    """Ask for `path` back in the page cache (asynchronous readahead) for the next VM."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        # The kernel caps each request at the device's readahead window.
        for offset in range(0, size, READ_AHEAD_CHUNK):
            os.posix_fadvise(fd, offset, READ_AHEAD_CHUNK, os.POSIX_FADV_WILLNEED)
    finally:
        os.close(fd)
