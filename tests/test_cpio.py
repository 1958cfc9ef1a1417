import io
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minibios.images.cpio import CpioEntry, CpioError, CpioWriter, read_cpio


def archive(build) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    with CpioWriter(out) as cpio:
        build(cpio)
    return out.getvalue()


def test_round_trip_kinds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big"
    big.write_bytes(bytes(range(256)) * 5000 + b"x")
    big.chmod(0o640)

    def build(cpio: CpioWriter) -> None:
        cpio.add_dir("/bin")
        cpio.add_file("bin/hello", b"hi\n", mode=0o755)
        cpio.add_symlink("bin/sh", "/bin/busybox")
        cpio.add_char_device("dev/console", 5, 1)
        cpio.add_file_from("big", big)
        cpio.add_file("empty", b"")

    entries = {e.name: e for e in read_cpio(archive(build))}
    assert list(entries) == ["bin", "bin/hello", "bin/sh", "dev/console", "big", "empty"]
    assert stat.S_ISDIR(entries["bin"].mode)
    assert entries["bin/hello"].data == b"hi\n"
    assert stat.S_IMODE(entries["bin/hello"].mode) == 0o755
    assert stat.S_ISLNK(entries["bin/sh"].mode) and entries["bin/sh"].data == b"/bin/busybox"
    console = entries["dev/console"]
    assert stat.S_ISCHR(console.mode) and (console.rdevmajor, console.rdevminor) == (5, 1)
    assert entries["big"].data == big.read_bytes()
    assert stat.S_IMODE(entries["big"].mode) == 0o640
    assert entries["empty"].data == b""


def test_layout_is_newc_and_aligned() -> None:
    data = archive(lambda cpio: cpio.add_file("a", b"12345"))
    assert data.startswith(b"070701")
    assert len(data) % 4 == 0
    assert b"TRAILER!!!\0" in data


def test_output_is_deterministic() -> None:
    def build(cpio: CpioWriter) -> None:
        cpio.add_dir("d")
        cpio.add_file("d/f", b"data")

    assert archive(build) == archive(build)


@pytest.mark.parametrize("name", ["", "/", "a\0b", "TRAILER!!!"])
def test_bad_names(name: str) -> None:
    with pytest.raises(CpioError):
        archive(lambda cpio: cpio.add_file(name, b""))


@pytest.mark.parametrize("data", [b"", b"070701", b"garbage" * 20, b"070701" + b"Z" * 104])
def test_reader_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CpioError):
        read_cpio(data)


names = st.text(
    alphabet=st.characters(blacklist_characters="\0/", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda n: n != "TRAILER!!!")
entries = st.lists(
    st.builds(
        CpioEntry,
        name=names,
        mode=st.sampled_from([stat.S_IFREG | 0o644, stat.S_IFREG | 0o755, stat.S_IFDIR | 0o755]),
        data=st.binary(max_size=300),
        uid=st.integers(0, 0xFFFFFFFF),
        gid=st.integers(0, 65535),
        nlink=st.integers(1, 5),
        mtime=st.integers(0, 0xFFFFFFFF),
        rdevmajor=st.integers(0, 255),
        rdevminor=st.integers(0, 255),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(entries)
def test_round_trip_property(items: list[CpioEntry]) -> None:
    out = io.BytesIO()
    with CpioWriter(out) as cpio:
        for item in items:
            cpio.add(item)
    assert read_cpio(out.getvalue()) == items
