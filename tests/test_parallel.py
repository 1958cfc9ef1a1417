"""Eight VMs at once: every one reaches /init and powers off, none is left behind."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from vm_support import BootImages, image_machine, qemu_pids

from minibios.images.report import REPORT_RE
from minibios.vm.machine import VmEnd

pytestmark = pytest.mark.boot

VMS = 8
# Eight TCG guests share two cores (and the other test worker): allow for that.
PARALLEL_TIMEOUT = 300.0


def boot_one(firmware: str, images: BootImages, marker: str) -> VmEnd:
    # The thread that starts QEMU must outlive it (PR_SET_PDEATHSIG): it does,
    # since the whole run stays inside this function.
    with image_machine(images, firmware, marker, memory="256M") as vm:
        vm.wait_for(REPORT_RE, PARALLEL_TIMEOUT)
        return vm.wait_exit(PARALLEL_TIMEOUT)


def test_eight_vms_at_once(firmware: str, boot_images: BootImages, marker: str) -> None:
    markers = [f"{marker}-{i}" for i in range(VMS)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=VMS) as pool:
        ends = list(pool.map(lambda m: boot_one(firmware, boot_images, m), markers))
    elapsed = time.monotonic() - started
    assert ends == [VmEnd.POWERED_OFF] * VMS, f"after {elapsed:.1f} s: {ends}"
    assert not any(qemu_pids(m) for m in markers)
