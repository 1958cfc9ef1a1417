"""The few GDB remote-protocol requests the benchmark needs from QEMU's gdb stub.

QEMU started with -S and -gdb holds the CPU at its reset vector until we
continue it; hardware breakpoints then stop the VM on the exact instruction
where a boot phase begins (TCG honours them without touching guest memory).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from minibios.errors import RunError


class GdbRemoteError(RunError):
    """The gdb stub did not answer as expected."""


def _checksum(payload: bytes) -> bytes:
    return b"%02x" % (sum(payload) & 0xFF)


@dataclass
class GdbRemote:
    """A connection to QEMU's gdb stub on a unix socket."""

    path: Path
    timeout: float = 60.0
    _sock: socket.socket | None = field(default=None, init=False, repr=False)
    _pending: bytes = field(default=b"", init=False, repr=False)

    def connect(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                sock.close()
                if time.monotonic() > deadline:
                    raise GdbRemoteError(f"no gdb stub at {self.path}") from exc
                time.sleep(0.005)
                continue
            sock.settimeout(self.timeout)
            self._sock = sock
            return

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read_byte(self) -> bytes:
        if not self._pending:
            assert self._sock is not None
            try:
                self._pending = self._sock.recv(4096)
            except TimeoutError as exc:
                raise GdbRemoteError("the gdb stub went quiet") from exc
            except OSError as exc:
                raise GdbRemoteError(f"lost the gdb stub: {exc.strerror}") from exc
            if not self._pending:
                raise GdbRemoteError("the gdb stub closed the connection")
        byte, self._pending = self._pending[:1], self._pending[1:]
        return byte

    def send(self, payload: str) -> None:
        """Send one packet and wait for the stub's acknowledgement."""
        assert self._sock is not None, "connect() first"
        raw = payload.encode()
        packet = b"$" + raw + b"#" + _checksum(raw)
        self._write(packet)
        while (ack := self._read_byte()) != b"+":
            if ack == b"-":
                self._write(packet)

    def _write(self, data: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(data)
        except OSError as exc:
            # QEMU gone: the VM ended (or died) before the stop we wait for.
            raise GdbRemoteError(f"lost the gdb stub: {exc.strerror}") from exc

    def receive(self) -> str:
        """The next packet from the stub (acknowledged)."""
        while self._read_byte() != b"$":
            pass
        payload = b""
        while (byte := self._read_byte()) != b"#":
            payload += byte
        received = self._read_byte() + self._read_byte()
        if received != _checksum(payload):
            raise GdbRemoteError(f"bad checksum on packet {payload!r}")
        self._write(b"+")
        return payload.decode(errors="replace")

    def request(self, payload: str) -> str:
        self.send(payload)
        return self.receive()

    def set_breakpoint(self, address: int) -> None:
        if (reply := self.request(f"Z1,{address:x},1")) != "OK":
            raise GdbRemoteError(f"cannot set a breakpoint at {address:#x}: {reply!r}")

    def clear_breakpoint(self, address: int) -> None:
        if (reply := self.request(f"z1,{address:x},1")) != "OK":
            raise GdbRemoteError(f"cannot clear the breakpoint at {address:#x}: {reply!r}")

    def resume(self) -> None:
        """Continue the VM; its next stop arrives through wait_stop()."""
        self.send("c")

    def wait_stop(self) -> str:
        """Block until the VM stops (a breakpoint); returns the stop reply."""
        reply = self.receive()
        if not reply.startswith(("T", "S")):
            raise GdbRemoteError(f"unexpected stop reply {reply!r}")
        return reply
