"""The framed protocol between the host and the guest agent (docs/agent-protocol.md).

Every frame is an 8-byte header, then `length` payload bytes:

    offset 0  2 bytes  magic b"MX"
    offset 2  1 byte   type (FrameType)
    offset 3  1 byte   flags, 0 (a receiver rejects anything else)
    offset 4  4 bytes  payload length, little endian, at most MAX_PAYLOAD

Requests that carry several values (RUN, MOUNT, ROOT) use "fields": a run of
`key byte + value + NUL`; values never contain NUL (argv and paths cannot).
"""

import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAGIC = b"MX"
HEADER = struct.Struct("<2sBBI")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 64 * 1024
PROTOCOL_VERSION = 1
# The virtserialport's name; the agent finds its /dev/vportNpM by it.
PORT_NAME = "org.minibios.agent"
_READY = struct.Struct("<IQQ")
_EXIT = struct.Struct("<BxxxiQ")
_SIGNAL = struct.Struct("<I")
EXITED = 0
SIGNALED = 1


class FrameType(enum.IntEnum):
    # guest -> host
    READY = 0x01  # u32 version, u64 boottime ns at /init, u64 boottime ns now
    STDOUT = 0x02  # bytes of the command's stdout
    STDERR = 0x03  # bytes of the command's stderr
    EXIT = 0x04  # u8 kind (0 exited, 1 signal), i32 value, u64 boottime ns
    ERROR = 0x05  # UTF-8 text: the request failed (no EXIT follows a failed RUN)
    DONE = 0x06  # the last MOUNT/ROOT request succeeded
    # host -> guest
    RUN = 0x10  # fields: a=argv element (1+), e=NAME=VALUE, w=working dir
    STDIN = 0x11  # bytes for the command's stdin; an empty frame is end-of-file
    SIGNAL = 0x12  # u32 signal number for the command's process group
    MOUNT = 0x13  # fields: t=virtiofs tag, p=guest path, o=options ("ro" or "rw")
    ROOT = 0x14  # fields: t=virtiofs tag: the command root becomes tag + tmpfs overlay
    POWEROFF = 0x15  # sync and power off
    PING = 0x16  # answered by READY (with the guest's clock now)
    SEED = 0x17  # u64 host CLOCK_REALTIME ns + 32..512 random bytes: set clock, credit RNG


GUEST_TO_HOST = frozenset(
    {
        FrameType.READY,
        FrameType.STDOUT,
        FrameType.STDERR,
        FrameType.EXIT,
        FrameType.ERROR,
        FrameType.DONE,
    }
)


class ProtocolError(Exception):
    """The byte stream is not a valid frame sequence."""


@dataclass(frozen=True)
class Frame:
    type: FrameType
    payload: bytes = b""


SEED_BYTES = 64


def encode_seed(realtime_ns: int, entropy: bytes) -> bytes:
    """SEED: the wall clock to set and bytes to credit to the guest's RNG (DONE or ERROR)."""
    if not 32 <= len(entropy) <= 512:
        raise ProtocolError(f"SEED wants 32..512 random bytes, not {len(entropy)}")
    return encode_frame(FrameType.SEED, struct.pack("<Q", realtime_ns) + entropy)


def encode_frame(frame_type: FrameType, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(MAGIC, int(frame_type), 0, len(payload)) + payload


def encode_data(frame_type: FrameType, data: bytes) -> Iterable[bytes]:
    """`data` as frames of at most MAX_PAYLOAD bytes each (none for empty data)."""
    view = memoryview(data)
    for start in range(0, len(data), MAX_PAYLOAD):
        yield encode_frame(frame_type, bytes(view[start : start + MAX_PAYLOAD]))


class FrameParser:
    """Incremental parser: feed() arbitrary chunks, get complete frames back.

    After a ProtocolError the parser stays broken: a stream that lost its
    framing cannot be trusted again.
    """

    def __init__(self, accept: frozenset[FrameType] = GUEST_TO_HOST) -> None:
        self._buffer = bytearray()
        self._accept = accept
        self._error: ProtocolError | None = None

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames = []
        try:
            while len(self._buffer) >= HEADER_SIZE:
                magic, kind, flags, length = HEADER.unpack_from(self._buffer)
                self._check_header(magic, kind, flags, length)
                if len(self._buffer) < HEADER_SIZE + length:
                    break
                payload = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + length])
                del self._buffer[: HEADER_SIZE + length]
                frames.append(Frame(FrameType(kind), payload))
        except ProtocolError as exc:
            self._error = exc
            raise
        return frames

    def _check_header(self, magic: bytes, kind: int, flags: int, length: int) -> None:
        if magic != MAGIC:
            raise ProtocolError(f"bad frame magic {magic!r} (want {MAGIC!r})")
        if kind not in FrameType._value2member_map_ or FrameType(kind) not in self._accept:
            raise ProtocolError(f"unexpected frame type 0x{kind:02x}")
        if flags != 0:
            raise ProtocolError(f"frame flags 0x{flags:02x} set (want 0)")
        if length > MAX_PAYLOAD:
            raise ProtocolError(f"frame of {length} bytes exceeds {MAX_PAYLOAD}")


def encode_fields(fields: Sequence[tuple[str, str | bytes]]) -> bytes:
    out = bytearray()
    for key, value in fields:
        raw = value.encode() if isinstance(value, str) else value
        if len(key) != 1 or not key.isascii():
            raise ProtocolError(f"field key must be one ASCII character: {key!r}")
        if b"\0" in raw:
            raise ProtocolError(f"field {key!r} contains a NUL byte")
        out += key.encode() + raw + b"\0"
    return bytes(out)


def decode_fields(payload: bytes) -> list[tuple[str, bytes]]:
    if payload and not payload.endswith(b"\0"):
        raise ProtocolError("fields do not end with NUL")
    fields = []
    for item in payload.split(b"\0")[:-1]:
        if not item:
            raise ProtocolError("empty field")
        if item[0] >= 0x80:
            raise ProtocolError(f"field key 0x{item[0]:02x} is not ASCII")
        fields.append((chr(item[0]), item[1:]))
    return fields


@dataclass(frozen=True)
class RunRequest:
    argv: tuple[str, ...]
    env: tuple[str, ...] = ()
    workdir: str = "/"

    def encode(self) -> bytes:
        if not self.argv:
            raise ProtocolError("an empty command")
        fields: list[tuple[str, str | bytes]] = [("a", arg) for arg in self.argv]
        fields += [("e", entry) for entry in self.env]
        fields.append(("w", self.workdir))
        payload = encode_fields(fields)
        if len(payload) > MAX_PAYLOAD:
            raise ProtocolError(f"command line and environment exceed {MAX_PAYLOAD} bytes")
        return encode_frame(FrameType.RUN, payload)


@dataclass(frozen=True)
class Ready:
    version: int
    init_ns: int  # guest CLOCK_BOOTTIME when the agent started as /init
    ready_ns: int  # guest CLOCK_BOOTTIME when it sent READY


def decode_ready(payload: bytes) -> Ready:
    if len(payload) != _READY.size:
        raise ProtocolError(f"READY payload of {len(payload)} bytes (want {_READY.size})")
    return Ready(*_READY.unpack(payload))


@dataclass(frozen=True)
class ExitStatus:
    signaled: bool
    value: int  # the exit code, or the signal number
    guest_ns: int = field(default=0, compare=False)

    @property
    def returncode(self) -> int:
        """As subprocess reports it: the code, or -N for death by signal N."""
        return -self.value if self.signaled else self.value

    @property
    def shell_status(self) -> int:
        """As a shell reports it: the code, or 128+N for death by signal N."""
        return 128 + self.value if self.signaled else self.value


def encode_exit(status: ExitStatus) -> bytes:
    kind = SIGNALED if status.signaled else EXITED
    return encode_frame(FrameType.EXIT, _EXIT.pack(kind, status.value, status.guest_ns))


def decode_exit(payload: bytes) -> ExitStatus:
    if len(payload) != _EXIT.size:
        raise ProtocolError(f"EXIT payload of {len(payload)} bytes (want {_EXIT.size})")
    kind, value, guest_ns = _EXIT.unpack(payload)
    if kind not in (EXITED, SIGNALED):
        raise ProtocolError(f"EXIT kind {kind} (want 0 or 1)")
    if not 0 <= value <= (255 if kind == EXITED else 127):
        raise ProtocolError(f"EXIT value {value} out of range")
    return ExitStatus(kind == SIGNALED, value, guest_ns)


def encode_signal(signum: int) -> bytes:
    return encode_frame(FrameType.SIGNAL, _SIGNAL.pack(signum))


def encode_mount(tag: str, path: str, readonly: bool) -> bytes:
    fields = [("t", tag), ("p", path), ("o", "ro" if readonly else "rw")]
    return encode_frame(FrameType.MOUNT, encode_fields(fields))


def encode_root(tag: str) -> bytes:
    return encode_frame(FrameType.ROOT, encode_fields([("t", tag)]))
