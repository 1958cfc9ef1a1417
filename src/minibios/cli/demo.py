"""The demo: boot the cached Debian cloud kernel with a report initramfs."""

from dataclasses import dataclass, replace

from minibios.images.assets import cache_dir, find_busybox, find_kernel
from minibios.images.entry import Entry, EntryChoice, choose_entry
from minibios.images.initramfs import InitramfsSpec, build_initramfs
from minibios.vm.preflight import preflight
from minibios.vm.spec import VmSpec

# panic=-1: a panicking guest resets at once (and QEMU exits, -no-reboot)
# instead of hanging until the timeout.
DEMO_APPEND = "console=ttyS0 quiet panic=-1"


@dataclass(frozen=True)
class DemoPlan:
    spec: VmSpec  # preflighted
    entry: EntryChoice
    kernel_version: str


def demo_plan(base: VmSpec, entry: Entry | str = Entry.AUTO) -> DemoPlan:
    """Find the assets, build (or reuse) the initramfs, pick the entry, check the VM.

    `base` says how to run (machine, firmware, ...); the demo adds what to boot.
    """
    cache = cache_dir()
    kernel = find_kernel(cache)
    initrd = build_initramfs(InitramfsSpec(busybox=find_busybox()), cache)
    choice = choose_entry(kernel.vmlinuz, cache, entry, base.boot_protocol, base.pvh_blocker())
    spec = replace(base, kernel=choice.kernel, initrd=initrd, append=DEMO_APPEND)
    return DemoPlan(preflight(spec), choice, kernel.version)
