"""The host side of the agent protocol: framing, fields, exit statuses (fuzzed)."""

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minibios.agent.protocol import (
    GUEST_TO_HOST,
    HEADER_SIZE,
    MAX_PAYLOAD,
    ExitStatus,
    Frame,
    FrameParser,
    FrameType,
    ProtocolError,
    RunRequest,
    decode_exit,
    decode_fields,
    decode_ready,
    encode_data,
    encode_exit,
    encode_fields,
    encode_frame,
)

guest_types = st.sampled_from(sorted(GUEST_TO_HOST))
frames = st.builds(Frame, guest_types, st.binary(max_size=300))


def split_points(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@settings(max_examples=300)
@given(st.lists(frames, max_size=20), st.lists(st.integers(min_value=0), max_size=30))
def test_frames_survive_any_chunking(sent: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f.type, f.payload) for f in sent)
    parser = FrameParser()
    got = []
    for piece in split_points(stream, cuts):
        got += parser.feed(piece)
    assert got == sent
    assert parser.pending == 0


@settings(max_examples=500)
@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=10))
def test_garbage_is_a_protocol_error_or_frames(data: bytes, cuts: list[int]) -> None:
    parser = FrameParser()
    try:
        for piece in split_points(data, cuts):
            for frame in parser.feed(piece):
                assert frame.type in GUEST_TO_HOST
                assert len(frame.payload) <= MAX_PAYLOAD
    except ProtocolError:
        with pytest.raises(ProtocolError):  # and it stays broken
            parser.feed(b"")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"XX\x02\x00\x00\x00\x00\x00", "magic"),
        (b"MX\x7f\x00\x00\x00\x00\x00", "type"),
        (b"MX\x10\x00\x00\x00\x00\x00", "type"),  # RUN goes host -> guest only
        (b"MX\x02\x01\x00\x00\x00\x00", "flags"),
        (b"MX\x02\x00" + struct.pack("<I", MAX_PAYLOAD + 1), "exceeds"),
    ],
)
def test_bad_headers_are_named(header: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        FrameParser().feed(header)


def test_a_header_alone_waits_for_its_payload() -> None:
    parser = FrameParser()
    assert parser.feed(encode_frame(FrameType.STDOUT, b"abc")[:-1]) == []
    assert parser.pending == HEADER_SIZE + 2
    assert parser.feed(b"c") == [Frame(FrameType.STDOUT, b"abc")]


@given(st.binary(max_size=3 * MAX_PAYLOAD + 5))
@settings(max_examples=20)
def test_data_is_split_into_bounded_frames(data: bytes) -> None:
    parser = FrameParser()
    got = parser.feed(b"".join(encode_data(FrameType.STDERR, data)))
    assert b"".join(f.payload for f in got) == data
    assert all(0 < len(f.payload) <= MAX_PAYLOAD for f in got)


key = st.characters(min_codepoint=1, max_codepoint=127)
value = st.binary(max_size=50).filter(lambda b: b"\0" not in b)


@settings(max_examples=500)
@given(st.lists(st.tuples(key, value), max_size=20))
def test_fields_round_trip(fields: list[tuple[str, bytes]]) -> None:
    assert decode_fields(encode_fields(fields)) == fields


@settings(max_examples=1000)
@given(st.binary(max_size=100))
def test_field_garbage_is_a_protocol_error_or_fields(payload: bytes) -> None:
    try:
        fields = decode_fields(payload)
    except ProtocolError:
        return
    assert encode_fields(fields) == payload


def test_fields_refuse_nul_in_values() -> None:
    with pytest.raises(ProtocolError, match="NUL"):
        encode_fields([("a", "x\0y")])


def test_run_request_layout() -> None:
    frame = RunRequest(("echo", "hi"), ("A=1",), "/tmp").encode()
    assert frame[:HEADER_SIZE] == b"MX\x10\x00" + struct.pack("<I", len(frame) - HEADER_SIZE)
    assert frame[HEADER_SIZE:] == b"aecho\0ahi\0eA=1\0w/tmp\0"
    with pytest.raises(ProtocolError, match="empty"):
        RunRequest(()).encode()
    with pytest.raises(ProtocolError, match="exceed"):
        RunRequest(("x" * MAX_PAYLOAD,)).encode()


@given(st.booleans(), st.integers(min_value=0, max_value=127), st.integers(0, 2**64 - 1))
def test_exit_round_trip(signaled: bool, value: int, ns: int) -> None:
    status = ExitStatus(signaled, value, ns)
    (frame,) = FrameParser().feed(encode_exit(status))
    decoded = decode_exit(frame.payload)
    assert decoded == status and decoded.guest_ns == ns
    assert decoded.shell_status == (128 + value if signaled else value)
    assert decoded.returncode == (-value if signaled else value)


@given(st.binary(max_size=20))
def test_exit_and_ready_garbage_is_a_protocol_error(payload: bytes) -> None:
    for decode in (decode_exit, decode_ready):
        with contextlib.suppress(ProtocolError):
            decode(payload)
