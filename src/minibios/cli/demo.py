"""The demo: boot the cached Debian cloud kernel with a report initramfs."""

from dataclasses import dataclass

from minibios.images.assets import cache_dir, find_busybox, find_kernel
from minibios.images.entry import AUTO, EntryChoice, choose_entry, pvh_blocker
from minibios.images.initramfs import InitramfsSpec, build_initramfs
from minibios.vm.preflight import RunRequest, preflight
from minibios.vm.spec import DEFAULT_MICROVM_ACPI, QemuConfig

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
    microvm_acpi: bool = DEFAULT_MICROVM_ACPI
    boot_protocol: int | None = None
    entry: str = AUTO
    qemu: str | None = None  # None: qemu_binary.choose_qemu decides


@dataclass(frozen=True)
class DemoPlan:
    config: QemuConfig
    entry: EntryChoice
    kernel_version: str


def demo_plan(settings: DemoSettings) -> DemoPlan:
    """Find the assets, build (or reuse) the initramfs, pick the entry, validate the run."""
    cache = cache_dir()
    kernel = find_kernel(cache)
    initrd = build_initramfs(InitramfsSpec(busybox=find_busybox()), cache)
    blocker = pvh_blocker(settings.firmware, settings.machine, settings.microvm_acpi)
    entry = choose_entry(kernel.vmlinuz, cache, settings.entry, settings.boot_protocol, blocker)
    request = RunRequest(
        kernel=str(entry.kernel),
        initrd=str(initrd),
        append=DEMO_APPEND,
        machine=settings.machine,
        cpus=settings.cpus,
        memory=settings.memory,
        firmware=settings.firmware,
        accel=settings.accel,
        microvm_acpi=settings.microvm_acpi,
        boot_protocol=settings.boot_protocol,
        qemu=settings.qemu,
    )
    return DemoPlan(preflight(request), entry, kernel.version)
