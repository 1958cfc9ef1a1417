"""Where minibios keeps downloaded and generated files, and how it finds them."""

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from minibios.errors import InputError
from minibios.images.elf import ElfError, parse_elf

SETUP_HINT = "run ./scripts/setup to install it"
# Debian kernel flavours scripts/setup unpacks: the suffix after the ABI number in
# the version ("6.1.0-56-cloud-amd64"), which is also the metapackage's name
# ("linux-image-cloud-amd64"). The generic kernel reads MP tables (X86_MPPARSE).
KERNEL_FLAVOURS: Mapping[str, str] = MappingProxyType({"cloud": "cloud-amd64", "generic": "amd64"})
_KERNEL_VERSION = re.compile(r"\d+(?:\.\d+)+-\d+-(?P<suffix>[a-z0-9-]+)")


class AssetError(InputError):
    """A file minibios needs is missing."""


@dataclass(frozen=True)
class KernelAssets:
    """A Debian kernel (cloud or generic) unpacked by scripts/setup."""

    version: str
    vmlinuz: Path
    modules_dir: Path


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$MINIBIOS_CACHE, else $XDG_CACHE_HOME/minibios, else ~/.cache/minibios."""
    env = os.environ if env is None else env
    if env.get("MINIBIOS_CACHE"):
        return Path(env["MINIBIOS_CACHE"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "minibios"
    return Path.home() / ".cache" / "minibios"


def _version_key(version: str) -> list[int | str]:
    # "6.1.0-56-cloud-amd64" sorts by its numbers, not as text (56 > 9).
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


def kernel_flavour(version: str) -> str | None:
    """The KERNEL_FLAVOURS key of a Debian kernel version, None for other flavours."""
    match = _KERNEL_VERSION.fullmatch(version)
    if match is None:
        return None
    for flavour, suffix in KERNEL_FLAVOURS.items():
        if match["suffix"] == suffix:
            return flavour
    return None


def find_kernel(cache: Path | None = None, flavour: str = "cloud") -> KernelAssets:
    """The newest kernel of `flavour` under <cache>/kernels/<version>/ (the unpacked .deb)."""
    if flavour not in KERNEL_FLAVOURS:
        choices = ", ".join(KERNEL_FLAVOURS)
        raise AssetError(f"unknown kernel flavour {flavour!r} (choose from {choices})")
    root = (cache or cache_dir()) / "kernels"
    found = []
    if root.is_dir():
        for version_dir in root.iterdir():
            vmlinuz = version_dir / "boot" / f"vmlinuz-{version_dir.name}"
            if vmlinuz.is_file() and kernel_flavour(version_dir.name) == flavour:
                found.append(version_dir.name)
    if not found:
        package = f"linux-image-{KERNEL_FLAVOURS[flavour]}"
        raise AssetError(f"no Debian {flavour} kernel ({package}) under {root}: {SETUP_HINT}")
    version = max(found, key=_version_key)
    base = root / version
    return KernelAssets(
        version=version,
        vmlinuz=base / "boot" / f"vmlinuz-{version}",
        modules_dir=base / "lib" / "modules" / version,
    )


def unpacked_kernel(vmlinuz: Path) -> KernelAssets | None:
    """The kernel tree `vmlinuz` sits in, if it is laid out as a Debian package unpacks
    (`X/boot/vmlinuz-V` beside `X/lib/modules/V`: scripts/setup's cache, or `/`), else None."""
    version = vmlinuz.name.removeprefix("vmlinuz-")
    if version == vmlinuz.name or vmlinuz.parent.name != "boot":
        return None
    modules_dir = vmlinuz.parent.parent / "lib" / "modules" / version
    return KernelAssets(version, vmlinuz, modules_dir) if modules_dir.is_dir() else None


def kernel_and_modules(vmlinuz: Path | None, cache: Path | None = None) -> KernelAssets:
    """The kernel tree to take modules from for `vmlinuz`: its own (unpacked_kernel); the
    cached cloud kernel when `vmlinuz` is None or has no module tree beside it (a kernel
    with its drivers built in ignores modules that are not its own)."""
    found = unpacked_kernel(vmlinuz) if vmlinuz is not None else None
    return found or find_kernel(cache)


def find_busybox(candidates: tuple[str, ...] = ("/bin/busybox", "/usr/bin/busybox")) -> Path:
    """A statically linked busybox (the initramfs has no libc to offer a dynamic one)."""
    paths = [Path(p) for p in candidates]
    on_path = shutil.which("busybox")
    if on_path:
        paths.append(Path(on_path))
    for path in paths:
        if not path.is_file():
            continue
        try:
            elf = parse_elf(path.read_bytes())
        except (OSError, ElfError):
            continue
        if elf.is_static:
            return path
    raise AssetError(f"no statically linked busybox found (busybox-static): {SETUP_HINT}")
