import os
import sys
from pathlib import Path

import pytest
from kernel_fakes import make_bzimage, make_elf
from vm_support import vm_spec

from minibios.errors import InputError
from minibios.images.kernel_image import parse_kernel
from minibios.sizes import GIB, KIB, MIB
from minibios.vm.preflight import (
    PreflightError,
    check_initrd_fits,
    initrd_limit,
    preflight,
)
from minibios.vm.spec import VmSpec


def checked(kernel: str, initrd: str | None = None, **options: object) -> VmSpec:
    """What `minibios run` does with its options: a VmSpec, then preflight.

    QEMU is a stand-in (preflight only looks it up): unit tests need none.
    """
    initrd_path = Path(initrd) if initrd is not None else None
    options.setdefault("qemu", sys.executable)
    return preflight(vm_spec(kernel=Path(kernel), initrd=initrd_path, **options))  # type: ignore[arg-type]


KERNEL = parse_kernel(make_bzimage(), Path("k"))  # loads at 16 MiB, init_size 48 MiB


def test_initrd_limit_rule() -> None:
    # Top of low RAM minus QEMU's ACPI area, minus the kernel's area, minus 1 MiB.
    assert initrd_limit(KERNEL, 512 * MIB) == 512 * MIB - 128 * KIB - 64 * MIB - MIB
    # Low RAM never counts above 2 GiB, and initrd_addr_max caps it as well.
    assert initrd_limit(KERNEL, 8 * GIB) == 2 * GIB - 128 * KIB - 65 * MIB
    assert initrd_limit(KERNEL, 64 * MIB) < 0


def test_elf_kernel_limit() -> None:
    elf = parse_kernel(make_elf(), Path("k"))
    assert initrd_limit(elf, 512 * MIB) == 512 * MIB - 128 * KIB - 48 * MIB - MIB


def test_check_initrd_fits() -> None:
    check_initrd_fits(KERNEL, 100 * MIB, 512 * MIB)
    with pytest.raises(PreflightError, match=r"^initrd too large for 128 MiB of RAM: 100 MiB"):
        check_initrd_fits(KERNEL, 100 * MIB, 128 * MIB)
    with pytest.raises(PreflightError, match="but nothing fits"):
        check_initrd_fits(KERNEL, 1, 32 * MIB)


def test_preflight_completes_the_spec(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage())
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"\0" * 1024)
    config = checked(
        kernel=str(kernel),
        initrd=str(initrd),
        append="console=ttyS0",
        machine="microvm",
        cpus=2,
        memory="256M",
        firmware="seabios",
        accel="tcg",
        extra_args=("-S",),
    )
    assert config.kernel == kernel and config.initrd == initrd
    assert config.memory == 256 * MIB and config.cpus == 2
    assert config.microvm_option_roms and config.firmware is not None
    assert config.extra_args == ("-S",) and config.accel == "tcg"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"machine": "isapc"}, "unknown machine type 'isapc'"),
        ({"memory": "lots"}, "bad memory size 'lots'"),
        ({"cpus": 0}, "--cpus must be at least 1"),
        ({"qemu": "qemu-system-nonexistent"}, "QEMU not found"),
        ({"kernel": "/nonexistent/k"}, "kernel not found: /nonexistent/k"),
        ({"initrd": "/nonexistent/i"}, "initrd not found: /nonexistent/i"),
        ({"kernel": "/"}, "kernel is not a regular file: /"),
        ({"firmware": "/nonexistent.rom"}, "firmware file not found: /nonexistent.rom"),
        ({"accel": "warp"}, "unknown accelerator 'warp'"),
    ],
)
def test_preflight_errors(tmp_path: Path, change: dict, message: str) -> None:  # type: ignore[type-arg]
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage())
    base = {"kernel": str(kernel), "firmware": "seabios", "accel": "tcg"}
    with pytest.raises(InputError) as info:
        checked(**{**base, **change})
    assert message in str(info.value)


def test_unreadable_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads anything, so fake the permission check rather than chmod.
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage())
    real_access = os.access
    monkeypatch.setattr(
        "minibios.vm.preflight.os.access",
        lambda path, mode: path != kernel and real_access(path, mode),
    )
    with pytest.raises(PreflightError, match=f"^kernel is not readable: {kernel}$"):
        checked(kernel=str(kernel), firmware="seabios", accel="tcg")
