"""The demo: boot the cached Debian cloud kernel with a report initramfs."""

from dataclasses import dataclass

from minibios.assets import cache_dir, find_busybox, find_kernel
from minibios.initramfs import InitramfsSpec, build_initramfs
from minibios.preflight import RunRequest, preflight
from minibios.qemu_config import QemuConfig
from minibios.vmlinux import extract_vmlinux

# panic=-1: a panicking guest resets at once (and QEMU exits, -no-reboot)
# instead of hanging until the timeout.
DEMO_APPEND = "console=ttyS0 quiet panic=-1"


@dataclass(frozen=True)
class DemoSettings:
    machine: str = "pc"
    cpus: int = 1
    memory: str = "512M"
    firmware: str = "minibios"
    accel: str = "auto"
    microvm_acpi: bool = False
    boot_protocol: int | None = None
    pvh: bool = False


def demo_config(settings: DemoSettings) -> QemuConfig:
    """Find the assets, build (or reuse) the initramfs and validate the run."""
    cache = cache_dir()
    kernel = find_kernel(cache)
    initrd = build_initramfs(InitramfsSpec(busybox=find_busybox()), cache)
    vmlinuz = extract_vmlinux(kernel.vmlinuz, cache).path if settings.pvh else kernel.vmlinuz
    request = RunRequest(
        kernel=str(vmlinuz),
        initrd=str(initrd),
        append=DEMO_APPEND,
        machine=settings.machine,
        cpus=settings.cpus,
        memory=settings.memory,
        firmware=settings.firmware,
        accel=settings.accel,
        microvm_acpi=settings.microvm_acpi,
        boot_protocol=settings.boot_protocol,
    )
    return preflight(request)
