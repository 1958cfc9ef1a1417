import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_fakes import make_bzimage, make_elf

from minibios.images.kernel_image import (
    BzImage,
    ElfKernel,
    KernelImageError,
    inspect_kernel,
    parse_kernel,
)

FAKE = Path("fake-kernel")


def test_bzimage_fields() -> None:
    kernel = parse_kernel(make_bzimage(), FAKE)
    assert isinstance(kernel, BzImage)
    assert kernel.protocol == (2, 15)
    assert kernel.setup_sects == 4
    assert kernel.setup_size == 5 * 512
    assert kernel.initrd_addr_max == 0x7FFFFFFF
    assert kernel.relocatable and kernel.loaded_high and kernel.has_64bit_entry
    assert kernel.cmdline_size == 2047
    assert (kernel.payload_offset, kernel.payload_length) == (0x2CC, 1234)
    assert kernel.init_size == 0x3000000
    assert kernel.memory_end == 0x1000000 + 0x3000000


def test_old_protocol_defaults() -> None:
    kernel = parse_kernel(make_bzimage(version=0x202), FAKE)
    assert isinstance(kernel, BzImage)
    assert kernel.initrd_addr_max == 0x37FFFFFF
    assert kernel.cmdline_size == 255
    assert kernel.init_size == 0 and not kernel.relocatable
    assert kernel.memory_end == 0x100000 + 4 * kernel.protected_mode_size


def test_zero_setup_sects_means_four() -> None:
    kernel = parse_kernel(make_bzimage(setup_sects=0), FAKE)
    assert isinstance(kernel, BzImage) and kernel.setup_sects == 4


def test_elf_kernel() -> None:
    kernel = parse_kernel(make_elf(), FAKE)
    assert isinstance(kernel, ElfKernel)
    assert kernel.bits == 64 and kernel.pvh_entry == 0x1000
    assert kernel.memory_end == 0x1000000 + 0x2000000


def test_elf_without_pvh_note() -> None:
    kernel = parse_kernel(make_elf(pvh_entry=None), FAKE)
    assert isinstance(kernel, ElfKernel) and kernel.pvh_entry is None


def test_elf_for_another_cpu() -> None:
    with pytest.raises(KernelImageError, match="not for x86"):
        parse_kernel(make_elf(machine=183), FAKE)


@pytest.mark.parametrize(
    "data", [b"", b"hello", bytes(4096), make_bzimage()[:0x1FE] + b"\x55\xaa" + bytes(100)]
)
def test_not_a_kernel(data: bytes) -> None:
    with pytest.raises(KernelImageError, match=r"^not a bzImage or ELF kernel: fake-kernel$"):
        parse_kernel(data, FAKE)


def test_truncated_bzimage() -> None:
    with pytest.raises(KernelImageError, match="truncated"):
        parse_kernel(make_bzimage()[:0x240], FAKE)


def test_inspect_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KernelImageError, match="cannot read kernel"):
        inspect_kernel(tmp_path / "nope")


@pytest.mark.boot  # needs the downloaded kernel
def test_real_cloud_kernel(kernel_assets) -> None:  # type: ignore[no-untyped-def]
    kernel = inspect_kernel(kernel_assets.vmlinuz)
    assert isinstance(kernel, BzImage)
    assert kernel.protocol >= (2, 15)
    assert kernel.has_64bit_entry and kernel.relocatable
    assert kernel.init_size > kernel.protected_mode_size


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(KernelImageError):
        parse_kernel(data, FAKE)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=600), st.integers(0, 0x5FF))
def test_corrupted_headers_never_crash(noise: bytes, where: int) -> None:
    # Random damage to otherwise valid images reaches the deeper parsing paths.
    for image in (bytearray(make_bzimage()), bytearray(make_elf())):
        image[where : where + len(noise)] = noise
        with contextlib.suppress(KernelImageError):
            parse_kernel(bytes(image), FAKE)
