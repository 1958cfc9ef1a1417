"""A thread-safe record of a VM's serial console, with arrival times."""

import bisect
import codecs
import os
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

OutputCallback = Callable[[str], None]
_READ_SIZE = 65536


class ConsoleBuffer:
    """Text the guest printed so far; the reader thread appends, others wait on it.

    Carriage returns are dropped (the kernel writes CRLF). For every appended
    chunk we keep the monotonic time it arrived, so callers can ask when a
    given character was printed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: list[str] = []
        self._text = ""
        self._ends: list[int] = []
        self._times: list[float] = []
        self._eof_time: float | None = None

    @property
    def condition(self) -> threading.Condition:
        return self._cond

    def append(self, text: str, when: float) -> None:
        with self._cond:
            if text:
                self._chunks.append(text)
                self._ends.append(self.length + len(text))
                self._times.append(when)
            self._cond.notify_all()

    def mark_eof(self, when: float) -> None:
        with self._cond:
            self._eof_time = when
            self._cond.notify_all()

    @property
    def length(self) -> int:
        return self._ends[-1] if self._ends else 0

    @property
    def text(self) -> str:
        with self._cond:
            if self._chunks:
                self._text += "".join(self._chunks)
                self._chunks.clear()
            return self._text

    @property
    def eof_time(self) -> float | None:
        return self._eof_time

    def time_at(self, offset: int) -> float | None:
        """Monotonic time at which the character at `offset` arrived."""
        with self._cond:
            index = bisect.bisect_right(self._ends, offset)
            return self._times[index] if index < len(self._times) else None

    def wait(self, timeout: float) -> None:
        """Sleep until new output or EOF, or `timeout` seconds."""
        with self._cond:
            self._cond.wait(timeout)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text.rstrip("\n").splitlines()[-lines:])


def pump(stream: BinaryIO, buffer: ConsoleBuffer, on_output: OutputCallback | None) -> None:
    """Copy `stream` into `buffer` until EOF (runs in the reader thread)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    fd = stream.fileno()
    while True:
        try:
            chunk = os.read(fd, _READ_SIZE)
        except OSError:
            chunk = b""
        text = decoder.decode(chunk, final=not chunk).replace("\r", "")
        now = time.monotonic()
        buffer.append(text, now)
        if text and on_output is not None:
            try:
                on_output(text)
            except Exception:  # a broken stdout must not stop the console record
                on_output = None
        if not chunk:
            buffer.mark_eof(now)
            return
