"""What was worked out from big files, remembered in the cache by the files' identity.

Every `minibios exec` used to read the 50 MB vmlinux to find its PVH note, hash the
bzImage, walk the kernel's module tree and ask QEMU for its version: ~0.2-0.4 s of
host work before a restored VM, which itself takes about as long. A file's identity
(its resolved path, device, inode, size, and modification and change times in ns)
changes whenever its content can have, so an answer stored under the identity of
every file it was derived from can be reused until one of them changes.

A file changed within the last RACY_SECONDS is not trusted this way (its next
write may keep the same times on a coarse clock), and nothing is remembered
without a cache directory. A memo that cannot be read or written is computed
afresh: it only ever saves time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

RACY_SECONDS = 2.0
MEMO_VERSION = 1

T = TypeVar("T")


def file_identity(path: Path, racy_seconds: float = RACY_SECONDS) -> list[object] | None:
    """What changes when the file at `path` may have; None if it is missing or too new."""
    try:
        resolved = path.resolve()
        st = resolved.stat()
    except OSError:
        return None
    if max(st.st_mtime, st.st_ctime) > time.time() - racy_seconds:
        return None
    return [str(resolved), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


@dataclass(frozen=True)
class FileMemo:
    """Answers kept under `directory` (`<cache>/memo`), one small JSON file each."""

    directory: Path
    racy_seconds: float = RACY_SECONDS

    @classmethod
    def in_cache(cls, cache: Path) -> FileMemo:
        """The memo of the cache directory `cache` (images.assets.cache_dir)."""
        return cls(cache / "memo")

    def _path(self, kind: str, inputs: Sequence[Path], params: object) -> Path | None:
        identities = [file_identity(path, self.racy_seconds) for path in inputs]
        if any(identity is None for identity in identities):
            return None
        blob = json.dumps([MEMO_VERSION, kind, params, identities], sort_keys=True).encode()
        return self.directory / kind / f"{hashlib.sha256(blob).hexdigest()[:32]}.json"

    def remember(
        self,
        kind: str,
        inputs: Sequence[Path],
        params: object,
        compute: Callable[[], T],
        encode: Callable[[T], object],
        decode: Callable[[object], T],
    ) -> T:
        """compute()'s answer for these input files and params (JSON-able), from the
        memo when it holds one; `encode` makes the answer JSON-able, `decode` undoes it."""
        path = self._path(kind, inputs, params)
        if path is not None:
            try:
                return decode(json.loads(path.read_text()))
            except (OSError, ValueError, TypeError, KeyError):
                pass  # none yet, or unreadable: work it out again
        answer = compute()
        if path is not None:
            self._store(path, encode(answer))
        return answer

    @staticmethod
    def _store(path: Path, value: object) -> None:
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(value))
            partial.replace(path)  # atomic: a reader sees all of it or nothing
        except OSError:
            with contextlib.suppress(OSError):  # e.g. no directory to have made it in
                partial.unlink(missing_ok=True)
