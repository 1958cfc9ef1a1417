"""A writer (and a small reader, for checks) of the "newc" cpio format the kernel unpacks."""

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110
_FIELDS = 13  # magic + 13 eight-digit hex fields = 110 bytes
_CHUNK = 1 << 20


class CpioError(ValueError):
    """Malformed archive, or an entry the format cannot hold."""


@dataclass(frozen=True)
class CpioEntry:
    name: str
    mode: int
    data: bytes = b""
    uid: int = 0
    gid: int = 0
    nlink: int = 1
    mtime: int = 0
    rdevmajor: int = 0
    rdevminor: int = 0


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _clean_name(name: str) -> str:
    # The kernel unpacks relative to its rootfs; a leading "/" is noise.
    cleaned = name.lstrip("/")
    if not cleaned or "\0" in cleaned or cleaned == TRAILER:
        raise CpioError(f"invalid cpio member name {name!r}")
    return cleaned


class CpioWriter:
    """Stream newc entries into a binary file object; call close() for the trailer.

    Inode numbers are assigned sequentially and mtimes default to 0, so the
    same inputs give byte-identical archives (which makes caching by hash work).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._next_ino = 1
        self._closed = False

    def __enter__(self) -> "CpioWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()

    def _header(self, name: str, mode: int, size: int, entry: CpioEntry | None = None) -> None:
        if self._closed:
            raise CpioError("archive already closed")
        encoded = name.encode()
        ino = 0 if name == TRAILER else self._next_ino
        self._next_ino += 1
        fields = (
            ino,
            mode,
            entry.uid if entry else 0,
            entry.gid if entry else 0,
            entry.nlink if entry else (2 if stat.S_ISDIR(mode) else 1),
            entry.mtime if entry else 0,
            size,
            0,
            0,
            entry.rdevmajor if entry else 0,
            entry.rdevminor if entry else 0,
            len(encoded) + 1,
            0,
        )
        if any(not 0 <= value <= 0xFFFFFFFF for value in fields):
            raise CpioError(f"cpio field out of range for {name!r}")
        header = MAGIC + b"".join(b"%08X" % value for value in fields)
        self._stream.write(header + encoded + b"\0" + _pad(HEADER_SIZE + len(encoded) + 1))

    def add(self, entry: CpioEntry) -> None:
        """Write a fully described entry (used by round-trip checks)."""
        self._header(_clean_name(entry.name), entry.mode, len(entry.data), entry)
        self._stream.write(entry.data + _pad(len(entry.data)))

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        self._header(_clean_name(name), stat.S_IFDIR | mode, 0)

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._header(_clean_name(name), stat.S_IFREG | mode, len(data))
        self._stream.write(data + _pad(len(data)))

    def add_file_from(self, name: str, source: Path, mode: int | None = None) -> None:
        """Copy a host file in chunks, so large payloads never sit in memory whole."""
        with open(source, "rb") as handle:
            info = Path(source).stat()
            perm = stat.S_IMODE(info.st_mode) if mode is None else mode
            self._header(_clean_name(name), stat.S_IFREG | perm, info.st_size)
            copied = 0
            while chunk := handle.read(_CHUNK):
                self._stream.write(chunk)
                copied += len(chunk)
        if copied != info.st_size:
            raise CpioError(f"{source} changed size while being archived")
        self._stream.write(_pad(copied))

    def add_symlink(self, name: str, target: str) -> None:
        data = target.encode()
        self._header(_clean_name(name), stat.S_IFLNK | 0o777, len(data))
        self._stream.write(data + _pad(len(data)))

    def add_char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        entry = CpioEntry(name, stat.S_IFCHR | mode, rdevmajor=major, rdevminor=minor)
        self.add(entry)

    def close(self) -> None:
        self._header(TRAILER, 0, 0)
        self._closed = True


def iter_cpio(data: bytes) -> Iterator[CpioEntry]:
    """Yield the entries of a newc archive up to its trailer."""
    pos = 0
    while True:
        if pos + HEADER_SIZE > len(data):
            raise CpioError("truncated cpio header")
        if data[pos : pos + 6] != MAGIC:
            raise CpioError(f"bad cpio magic at offset {pos}")
        try:
            fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(_FIELDS)]
        except ValueError as exc:
            raise CpioError(f"bad cpio header at offset {pos}") from exc
        _, mode, uid, gid, nlink, mtime, size, _, _, rmaj, rmin, namesize, _ = fields
        name_start = pos + HEADER_SIZE
        name_end = name_start + namesize
        if namesize == 0 or name_end > len(data) or data[name_end - 1] != 0:
            raise CpioError(f"bad cpio name at offset {pos}")
        name = data[name_start : name_end - 1].decode(errors="surrogateescape")
        data_start = name_end + (-name_end % 4)
        data_end = data_start + size
        if data_end > len(data):
            raise CpioError(f"truncated cpio data for {name!r}")
        if name == TRAILER:
            return
        yield CpioEntry(name, mode, data[data_start:data_end], uid, gid, nlink, mtime, rmaj, rmin)
        pos = data_end + (-data_end % 4)


def read_cpio(data: bytes) -> list[CpioEntry]:
    return list(iter_cpio(data))
