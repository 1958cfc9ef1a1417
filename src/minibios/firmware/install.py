"""`minibios install` / `uninstall`: the ROM at a stable path, and a QEMU firmware descriptor.

The descriptor follows QEMU's docs/interop/firmware.json. Management software
(libvirt) lists the descriptors of /usr/share/qemu/firmware, /etc/qemu/firmware
and $XDG_CONFIG_HOME/qemu/firmware together, sorts them by file name (a more
specific directory's file hides a same-named one) and takes the first that
matches the domain. Distributions number theirs 40-60 (Debian's OVMF: 40-, 50-
and 60-edk2-*.json); ours defaults to 90 so that any BIOS firmware already
described keeps serving `<os firmware='bios'>` domains.

Everything install writes (files and the directories it had to create) is
listed in a manifest next to the ROM; uninstall removes exactly that.
"""

import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from minibios.errors import InputError
from minibios.firmware.install_defaults import DEFAULT_PREFIX, DEFAULT_PRIORITY

ROM_FILE = "minibios.rom"
MANIFEST_FILE = "install-manifest.json"
DESCRIPTOR_STEM = "minibios.json"
MANIFEST_VERSION = 1


class InstallError(InputError):
    """Install or uninstall cannot proceed (permissions, a bad manifest, a bad option)."""


def share_dir(prefix: Path) -> Path:
    return prefix / "share" / "minibios"


def default_descriptor_dir(prefix: Path) -> Path:
    return prefix / "share" / "qemu" / "firmware"


def descriptor_name(priority: int) -> str:
    return f"{priority:02d}-{DESCRIPTOR_STEM}"


def _version() -> str:
    try:
        return metadata.version("minibios")
    except metadata.PackageNotFoundError:
        return "unknown"


def descriptor(rom: Path) -> dict[str, object]:
    """The firmware.json document for the ROM installed at `rom`.

    No features: minibios has no S3 resume path, no S4 support of its own, no
    SMM, no SEV, and it is not verbose. A domain asking for any of them (e.g.
    `<pm><suspend-to-mem enabled='yes'/>`) is left to another firmware.
    """
    return {
        "description": "minibios: minimal x86 BIOS-interface firmware that boots the "
        "-kernel/-initrd QEMU is given (no disk boot)",
        "interface-types": ["bios"],
        "mapping": {"device": "memory", "filename": str(rom)},
        "targets": [{"architecture": "x86_64", "machines": ["pc-i440fx-*", "pc-q35-*"]}],
        "features": [],
        "tags": [f"minibios-{_version()}"],
    }


@dataclass(frozen=True)
class InstallPlan:
    prefix: Path = DEFAULT_PREFIX
    with_descriptor: bool = False
    descriptor_dir: Path | None = None  # None: PREFIX/share/qemu/firmware
    priority: int = DEFAULT_PRIORITY

    def __post_init__(self) -> None:
        if not 0 <= self.priority <= 99:
            raise InstallError(f"descriptor priority must be 00-99, not {self.priority}")

    @property
    def rom(self) -> Path:
        return share_dir(self.prefix) / ROM_FILE

    @property
    def manifest(self) -> Path:
        return share_dir(self.prefix) / MANIFEST_FILE

    @property
    def descriptor_path(self) -> Path:
        directory = self.descriptor_dir or default_descriptor_dir(self.prefix)
        return directory / descriptor_name(self.priority)


@dataclass(frozen=True)
class Manifest:
    files: tuple[Path, ...]
    dirs: tuple[Path, ...]  # created by install, deepest last

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": MANIFEST_VERSION,
                "files": [str(f) for f in self.files],
                "dirs": [str(d) for d in self.dirs],
            },
            indent=2,
        )

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text())
            if data.get("version") != MANIFEST_VERSION:
                raise ValueError(f"unknown manifest version {data.get('version')!r}")
            files = tuple(Path(f) for f in data["files"])
            dirs = tuple(Path(d) for d in data["dirs"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InstallError(f"cannot read the install manifest {path}: {exc}") from exc
        if not all(p.is_absolute() for p in files + dirs):
            raise InstallError(f"install manifest {path} names relative paths: refusing")
        return cls(files, dirs)

    def merged(self, other: "Manifest") -> "Manifest":
        files = tuple(dict.fromkeys(self.files + other.files))
        dirs = tuple(dict.fromkeys(self.dirs + other.dirs))
        return Manifest(files, dirs)


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(directory: Path, action: str) -> None:
    """Refuse up front, with the fix, rather than fail halfway."""
    anchor = _existing_ancestor(directory)
    if not anchor.is_dir():
        raise InstallError(f"cannot {action} {directory}: {anchor} is not a directory")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise InstallError(
            f"cannot {action} {directory}: no write permission on {anchor} "
            "(run as root, or choose another --prefix, e.g. ~/.local)"
        )


def _make_dirs(directory: Path, created: list[Path]) -> None:
    missing = []
    for parent in [directory, *directory.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def _write_file(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename: a reader never sees half a ROM."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def _rom_source_bytes(rom_source: Path) -> bytes:
    try:
        return rom_source.read_bytes()
    except OSError as exc:
        raise InstallError(f"cannot read the ROM {rom_source}: {exc.strerror}") from exc


def check_install_permissions(plan: InstallPlan) -> None:
    """Refuse before anything else (the ROM's own build included) when we cannot write."""
    targets = [plan.rom, plan.descriptor_path] if plan.with_descriptor else [plan.rom]
    for target in targets:
        _check_writable(target.parent, "install into")


def install(plan: InstallPlan, rom_source: Path) -> Manifest:
    """Copy the ROM (and the descriptor) into place; return what this run wrote."""
    targets = [plan.rom, plan.descriptor_path] if plan.with_descriptor else [plan.rom]
    check_install_permissions(plan)
    rom_bytes = _rom_source_bytes(rom_source)
    created: list[Path] = []
    written: list[Path] = []
    try:
        for target in targets:
            _make_dirs(target.parent, created)
        _write_file(plan.rom, rom_bytes)
        written.append(plan.rom)
        if plan.with_descriptor:
            text = json.dumps(descriptor(plan.rom), indent=2) + "\n"
            _write_file(plan.descriptor_path, text.encode())
            written.append(plan.descriptor_path)
        this_run = Manifest((*written, plan.manifest), tuple(created))
        previous = Manifest.load(plan.manifest) if plan.manifest.exists() else None
        manifest = previous.merged(this_run) if previous else this_run
        _write_file(plan.manifest, (manifest.to_json() + "\n").encode())
    except OSError as exc:
        raise InstallError(f"install failed: {exc}") from exc
    return this_run


def uninstall(prefix: Path) -> list[Path]:
    """Remove what the manifest under `prefix` lists; return the paths removed."""
    manifest_path = share_dir(prefix) / MANIFEST_FILE
    try:
        manifest_path.stat()
    except FileNotFoundError:
        raise InstallError(
            f"nothing to uninstall: no {manifest_path} (was it installed there?)"
        ) from None
    except OSError as exc:
        raise InstallError(f"cannot read {manifest_path}: {exc.strerror}") from exc
    manifest = Manifest.load(manifest_path)
    for path in manifest.files:
        _check_writable(path.parent, "remove from")
    removed: list[Path] = []
    try:
        for path in manifest.files:
            if path != manifest_path and path.exists():
                path.unlink()
                removed.append(path)
        manifest_path.unlink()
        removed.append(manifest_path)
        # Deepest first; a directory someone else put files in stays.
        for directory in sorted(manifest.dirs, key=lambda d: len(d.parts), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
                removed.append(directory)
    except OSError as exc:
        raise InstallError(f"uninstall failed: {exc}") from exc
    return removed
