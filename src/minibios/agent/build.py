"""Build the guest agent (static C) and the exec initramfs around it, both cached by content."""

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import MinibiosError
from minibios.images.cpio import CpioWriter
from minibios.images.file_memo import FileMemo
from minibios.images.initramfs import busybox_applets, cached_file, find_modules, module_bytes

GUEST_SOURCE_DIR = Path(__file__).parent / "guest"
# Bump when the image layout changes, so stale cache entries are not reused.
LAYOUT_VERSION = "1"
MODULE_LIST = "etc/minibios/modules"
DIRECTORIES = ("bin", "dev", "etc", "etc/minibios", "lib", "lib/modules", "proc", "root", "run")
DIRECTORIES += ("sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin")
# The guest side of the channel, and of host directories (virtiofs + overlay root).
CHANNEL_MODULES = ("virtio_console",)
SHARE_MODULES = ("virtiofs", "overlay")
TRANSPORT_MODULE = {"pc": "virtio_pci", "q35": "virtio_pci", "microvm": "virtio_mmio"}


class AgentBuildError(MinibiosError):
    """The agent or its initramfs could not be built."""


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:32]


def _compiler_id() -> bytes:
    try:
        return subprocess.run(
            ["gcc", "--version"], capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise AgentBuildError(f"cannot run gcc to build the guest agent: {exc}") from exc


def _source_files() -> list[Path]:
    return sorted(
        p for p in GUEST_SOURCE_DIR.iterdir() if p.suffix in (".c", ".h") or p.name == "Makefile"
    )


def build_agent(cache: Path) -> Path:
    """The static agent binary, built with `make -C guest` on first use."""
    key = _digest(_compiler_id(), *(p.name.encode() + p.read_bytes() for p in _source_files()))

    def write(tmp: Path) -> None:
        tmp.unlink()  # make would take the empty placeholder for an up-to-date target
        try:
            subprocess.run(
                ["make", "-s", "-C", str(GUEST_SOURCE_DIR), f"OUT={tmp}"],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
        except subprocess.CalledProcessError as exc:
            raise AgentBuildError(f"building the guest agent failed:\n{exc.stderr}") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AgentBuildError(f"cannot build the guest agent: {exc}") from exc
        if not tmp.is_file() or tmp.read_bytes()[:4] != b"\x7fELF":
            raise AgentBuildError(f"make did not produce the guest agent at {tmp}")
        tmp.chmod(0o755)

    return cached_file(cache / "agent" / f"minibios-agent-{key}", write)


def _module_name(path: Path) -> str:
    return path.name.removesuffix(".xz").removesuffix(".gz")


@dataclass(frozen=True)
class AgentImageSpec:
    agent: Path
    busybox: Path
    modules: tuple[Path, ...]


def agent_modules(
    modules_dir: Path, machine: str, shares: bool = True, memo: FileMemo | None = None
) -> tuple[Path, ...]:
    """The kernel modules the agent loads, dependencies first."""
    names = (TRANSPORT_MODULE[machine], *CHANNEL_MODULES, *(SHARE_MODULES if shares else ()))
    return find_modules(modules_dir, names, memo)


def write_agent_image(spec: AgentImageSpec, out: Path) -> None:
    """A plain newc cpio: the agent as /init, busybox for commands, the modules."""
    names = [_module_name(m) for m in spec.modules]
    with open(out, "wb") as raw, CpioWriter(raw) as cpio:
        for directory in DIRECTORIES:
            cpio.add_dir(directory)
        cpio.add_char_device("dev/console", 5, 1)
        cpio.add_file_from("init", spec.agent, mode=0o755)
        cpio.add_file_from("bin/busybox", spec.busybox, mode=0o755)
        for applet in busybox_applets(spec.busybox):
            if applet != "bin/busybox":
                cpio.add_symlink(applet, "/bin/busybox")
        for name, path in zip(names, spec.modules, strict=True):
            cpio.add_file(f"lib/modules/{name}", module_bytes(path))
        cpio.add_file(MODULE_LIST, "".join(f"{n}\n" for n in names).encode())


def build_agent_image(spec: AgentImageSpec, cache: Path) -> Path:
    parts = [LAYOUT_VERSION.encode(), spec.agent.read_bytes(), spec.busybox.read_bytes()]
    parts += [m.name.encode() + m.read_bytes() for m in spec.modules]
    key = _digest(*parts)
    return cached_file(
        cache / "initramfs" / f"agent-{key}.cpio", lambda tmp: write_agent_image(spec, tmp)
    )
