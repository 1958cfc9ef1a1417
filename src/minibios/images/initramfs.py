"""Build (and cache) a busybox initramfs that prints a MINIBIOS-REPORT line."""

import gzip
import hashlib
import logging
import lzma
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import InputError
from minibios.images.cpio import CpioWriter
from minibios.images.file_memo import FileMemo
from minibios.images.init_script import MODULE_DIR, module_file_name, render_init

log = logging.getLogger(__name__)

# Bump when the image layout changes, so stale cache entries are not reused.
LAYOUT_VERSION = "2"
DIRECTORIES = ("bin", "dev", "etc", "lib", MODULE_DIR, "proc", "root", "run", "sbin", "sys")
DIRECTORIES += ("tmp", "usr", "usr/bin", "usr/sbin")
_CHUNK = 1 << 20
_MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz")
# What a guest needs to show an ACPI NVDIMM as /dev/pmem0; find_modules() adds
# their dependencies (libnvdimm, nd_btt) in front.
NVDIMM_MODULES = ("nfit", "nd_pmem")


class InitramfsError(InputError):
    """An input of the initramfs is missing or unusable."""


@dataclass(frozen=True)
class InitramfsSpec:
    """What goes into the image. Modules are loaded in the given order."""

    busybox: Path
    payload: Path | None = None
    modules: tuple[Path, ...] = ()
    compress: bool = True
    compress_level: int = 1


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _module_image_name(path: Path) -> str:
    name = path.name
    if not name.endswith((".ko", ".ko.xz", ".ko.gz")):
        raise InitramfsError(f"unsupported kernel module file (want .ko, .ko.xz or .ko.gz): {path}")
    for suffix in (".xz", ".gz"):
        name = name.removesuffix(suffix)
    try:
        return module_file_name(name)
    except ValueError as exc:
        raise InitramfsError(f"{path}: {exc}") from exc


def module_bytes(path: Path) -> bytes:
    """A module file as plain ELF: neither busybox insmod nor finit_module(2) without
    flags decompresses."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko"):
        return data
    raise InitramfsError(f"unsupported kernel module file (want .ko, .ko.xz or .ko.gz): {path}")


def busybox_applets(busybox: Path) -> list[str]:
    try:
        result = subprocess.run(
            [str(busybox), "--list-full"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InitramfsError(f"cannot list the applets of {busybox}: {exc}") from exc
    return sorted({line.strip() for line in result.stdout.splitlines() if line.strip()})


def _check_inputs(spec: InitramfsSpec) -> None:
    inputs = [spec.busybox, *spec.modules] + ([spec.payload] if spec.payload else [])
    for path in inputs:
        if not Path(path).is_file():
            raise InitramfsError(f"initramfs input not found: {path}")
    names = [_module_image_name(m) for m in spec.modules]
    if len(set(names)) != len(names):
        raise InitramfsError("two kernel modules share a file name")


def cache_key(spec: InitramfsSpec) -> str:
    """Hash of everything that affects the image's bytes."""
    _check_inputs(spec)
    digest = hashlib.sha256()
    init = render_init([_module_image_name(m) for m in spec.modules])
    parts = [LAYOUT_VERSION, init, _file_digest(spec.busybox)]
    parts.append(_file_digest(spec.payload) if spec.payload else "-")
    parts += [f"{_module_image_name(m)}={_file_digest(m)}" for m in spec.modules]
    parts.append(f"gzip{spec.compress_level}" if spec.compress else "raw")
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:32]


def write_initramfs(spec: InitramfsSpec, out: Path) -> None:
    """Write the image to `out` (gzip-compressed newc cpio unless compress=False)."""
    _check_inputs(spec)
    module_names = [_module_image_name(m) for m in spec.modules]
    with open(out, "wb") as raw:
        stream = (
            # filename="" and mtime=0 keep the gzip header independent of where we write.
            gzip.GzipFile(
                filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=spec.compress_level
            )
            if spec.compress
            else raw
        )
        with stream, CpioWriter(stream) as cpio:  # type: ignore[arg-type]
            for directory in DIRECTORIES:
                cpio.add_dir(directory)
            # The kernel opens /dev/console before /init runs and devtmpfs is mounted.
            cpio.add_char_device("dev/console", 5, 1)
            cpio.add_file_from("bin/busybox", spec.busybox, mode=0o755)
            for applet in busybox_applets(spec.busybox):
                if applet != "bin/busybox":
                    cpio.add_symlink(applet, "/bin/busybox")
            cpio.add_file("init", render_init(module_names).encode(), mode=0o755)
            for name, path in zip(module_names, spec.modules, strict=True):
                cpio.add_file(f"{MODULE_DIR}/{name}", module_bytes(path))
            if spec.payload:
                cpio.add_file_from("payload", spec.payload, mode=0o644)


def cached_file(target: Path, write: Callable[[Path], None]) -> Path:
    """`target`, written through a temp file and renamed, so parallel builders never clash."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".building-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def build_initramfs(spec: InitramfsSpec, cache: Path) -> Path:
    """Return a cached image for `spec`, building it first if needed.

    The file is written under a temporary name and renamed into place, so
    parallel builders (pytest-xdist workers) never see a half-written image.
    """
    key = cache_key(spec)
    suffix = ".cpio.gz" if spec.compress else ".cpio"
    target = cache / "initramfs" / f"{key}{suffix}"
    log.info("initramfs %s (%s)", target, "cached" if target.is_file() else "building")

    def write(tmp: Path) -> None:
        write_initramfs(spec, tmp)
        tmp.chmod(0o644)

    return cached_file(target, write)


def find_module(modules_dir: Path, name: str) -> Path:
    """Locate module `name` (e.g. "virtio_mmio") in an unpacked kernel's module tree."""
    for suffix in _MODULE_SUFFIXES:
        matches = sorted(modules_dir.glob(f"kernel/**/{name}{suffix}"))
        if matches:
            return matches[0]
    raise InitramfsError(f"kernel module {name} not found under {modules_dir}")


def module_depends(path: Path) -> tuple[str, ...]:
    """The modules `path` needs loaded first: its modinfo "depends=" entry.

    The .modinfo section is a run of NUL-terminated "key=value" strings, so
    the entry is found without parsing the ELF sections.
    """
    for entry in module_bytes(path).split(b"\0"):
        if entry.startswith(b"depends="):
            value = entry.removeprefix(b"depends=").decode("ascii", errors="replace")
            return tuple(name for name in value.split(",") if name)
    return ()


def find_modules(
    modules_dir: Path, names: tuple[str, ...], memo: FileMemo | None = None
) -> tuple[Path, ...]:
    """`names` and everything they depend on, in an order insmod can load them. With a
    memo, remembered while the tree's modules.dep stays the same file (finding them
    walks the whole tree and decompresses each module)."""
    if memo is None:
        return _find_modules(modules_dir, names)

    def decode(value: object) -> tuple[Path, ...]:
        if not isinstance(value, list):
            raise ValueError("not a remembered module list")
        found = tuple(Path(p) for p in value)
        if not all(path.is_file() for path in found):
            raise ValueError("a remembered module is gone")
        return found

    return memo.remember(
        "kernel-modules",
        [modules_dir / "modules.dep"],
        [str(modules_dir.resolve()), list(names)],
        lambda: _find_modules(modules_dir, names),
        lambda found: [str(path) for path in found],
        decode,
    )


def _find_modules(modules_dir: Path, names: tuple[str, ...]) -> tuple[Path, ...]:
    ordered: list[Path] = []
    placed: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in placed:
            return
        if name in chain:
            raise InitramfsError(f"kernel module dependency cycle: {' -> '.join((*chain, name))}")
        path = find_module(modules_dir, name)
        for dependency in module_depends(path):
            visit(dependency, (*chain, name))
        placed.add(name)
        ordered.append(path)

    for name in names:
        visit(name, ())
    return tuple(ordered)
