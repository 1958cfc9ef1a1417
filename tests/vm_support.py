"""Constants and helpers shared by the VM tests (conftest.py holds only fixtures)."""

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from minibios.firmware.choice import resolve_firmware
from minibios.images.assets import KernelAssets
from minibios.sizes import parse_memory
from minibios.vm.accel import choose_accel
from minibios.vm.console import OutputCallback
from minibios.vm.machine import Machine
from minibios.vm.spec import VmSpec

if TYPE_CHECKING:
    from minibios.agent import AgentMachine

MACHINES = ("pc", "q35", "microvm")
PAYLOAD_SIZE = 20 * 1024 * 1024
PAYLOAD_SEED = 20240601
BOOT_APPEND = "console=ttyS0 quiet panic=-1"
BOOT_TIMEOUT = 90.0
# microvm has no port 0x61 (the kernel's PIT calibration gate), HPET or PM timer,
# so the kernel cannot calibrate the TSC, and under TCG on a busy host it then
# sometimes hangs before /init, with any firmware (SeaBIOS too). Giving it the
# TSC frequency skips the calibration; the value only has to be plausible.
MICROVM_APPEND = "tsc_early_khz=2000000"
CLI_TIMEOUT = 120


@dataclass(frozen=True)
class BootImages:
    kernel: KernelAssets
    plain_initrd: Path
    payload_initrd: Path
    payload_sha256: str


def qemu_pids(marker: str) -> list[int]:
    """PIDs of QEMU processes whose command line carries `marker`."""
    result = subprocess.run(
        ["pgrep", "-f", f"qemu-system.*{marker}"], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in result.stdout.split()]


def minibios_cli() -> list[str]:
    return [sys.executable, "-m", "minibios"]


def _cli_env(tmpdir: Path, env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmpdir), **(env or {})}


def run_cli(
    *args: str, tmpdir: Path, env: dict[str, str] | None = None, timeout: float = CLI_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """`minibios ARGS` with TMPDIR=tmpdir, so its temp files can be checked afterwards."""
    return subprocess.run(
        [*minibios_cli(), *args],
        capture_output=True,
        text=True,
        env=_cli_env(tmpdir, env),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def popen_cli(
    *args: str, tmpdir: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`minibios ARGS` started as run_cli's (TMPDIR=tmpdir, no stdin), not waited for:
    stdout and stderr are pipes (read_until reads them as it runs)."""
    return subprocess.Popen(
        [*minibios_cli(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_cli_env(tmpdir, env),
    )


def read_until(stream: IO[bytes] | None, needle: bytes, timeout: float) -> bytes:
    """Read a child's pipe until `needle` appears; fail at the deadline."""
    assert stream is not None
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while needle not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {needle!r} on the pipe; tail: {seen[-1000:]!r}"
            if selector.select(remaining):
                chunk = os.read(stream.fileno(), 1 << 16)
                assert chunk, f"pipe closed before {needle!r}; tail: {seen[-1000:]!r}"
                seen += chunk
    return seen


def vm_spec(
    firmware: str | None = "minibios",
    *,
    machine: str = "pc",
    memory: str = "512M",
    accel: str = "auto",
    **fields: Any,
) -> VmSpec:
    """A VmSpec as the CLI would build it: firmware by name, memory in -m syntax,
    accel chosen, the TSC frequency told where the kernel needs it."""
    spec = VmSpec(
        machine=machine,
        memory=parse_memory(memory),
        accel=choose_accel(accel),
        firmware=resolve_firmware(firmware, machine) if firmware is not None else None,
        **fields,
    )
    return spec.with_tsc_hint()


def make_machine(
    firmware: str | None = "minibios",
    *,
    on_output: OutputCallback | None = None,
    stop_grace: float = 3.0,
    **fields: Any,
) -> Machine:
    """The tests' one way to a Machine: vm_spec(firmware, **fields), not started."""
    return Machine(vm_spec(firmware, **fields), on_output=on_output, stop_grace=stop_grace)


def run_args(
    kernel: Path | str,
    firmware: str,
    marker: str,
    *options: str,
    initrd: Path | None = None,
    qemu_args: Sequence[str] = (),
) -> list[str]:
    """`minibios run` arguments: kernel, initrd, firmware, OPTIONS, then `-- -name MARKER`
    (so qemu_pids finds the VM) and any more QEMU arguments."""
    args = ["run", "--kernel", str(kernel)]
    if initrd is not None:
        args += ["--initrd", str(initrd)]
    return [*args, "--firmware", firmware, *options, "--", "-name", marker, *qemu_args]


def image_machine(
    images: BootImages, firmware: str, marker: str, *extra_args: str, **fields: Any
) -> Machine:
    """make_machine booting the cached kernel with the plain initramfs and BOOT_APPEND
    (unless `fields` say otherwise), named `marker` for qemu_pids."""
    defaults = {
        "kernel": images.kernel.vmlinuz,
        "initrd": images.plain_initrd,
        "append": BOOT_APPEND,
    }
    return make_machine(firmware, extra_args=("-name", marker, *extra_args), **(defaults | fields))


MULTIBOOT_SOURCE = Path(__file__).parent / "data" / "multiboot.S"
# The multiboot test kernel at 1 MiB like most kernels; or low, spanning QEMU's boot
# information blocks at 0x9000/0x9500, as kvm-unit-tests' realmode test (0x8000-0xda30) does.
LINK_ADDRESSES = {"high": 0x100000, "low": 0x8000}


def build_multiboot_kernel(out: Path, address: int) -> Path:
    """tests/data/multiboot.S linked at `address`."""
    subprocess.run(
        [
            *("gcc", "-m32", "-nostdlib", "-static", f"-Wl,-Ttext={address:#x}"),
            # -n: no loadable ELF headers (they would land below the text, in the ROM's
            # segment for a kernel at 1 MiB).
            *("-Wl,-n", "-Wl,--no-warn-rwx-segments", "-Wl,--build-id=none"),
            *("-o", str(out), str(MULTIBOOT_SOURCE)),
        ],
        check=True,
    )
    return out


def check_host_root_guest(vm: "AgentMachine", timeout: float | None = None) -> None:
    """A `--rootfs host` guest runs the host's Python on its own kernel, starts in the
    host's current directory, and writes to a tmpfs overlay that leaves the host as it was."""
    assert vm.rootfs == "host"
    script = "import sys, platform; print(sys.version); print(platform.uname().release)"
    result = vm.run([sys.executable, "-c", script], timeout=timeout)
    assert result.returncode == 0, result.stderr
    version, release = result.stdout.decode().splitlines()
    assert version == sys.version
    assert release != os.uname().release  # the guest's kernel, the host's Python
    marker = f"/usr/minibios-overlay-{os.getpid()}"
    result = vm.run(["sh", "-c", f"pwd; echo x > {marker} && cat {marker}"], timeout=timeout)
    assert result.stdout.decode().splitlines() == [os.getcwd(), "x"]
    assert not Path(marker).exists()
