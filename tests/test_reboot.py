"""A guest reboot is a machine reset, whatever way Linux takes to it.

Linux resets through ACPI's reset register, the keyboard controller, a triple fault,
or, when nothing else works (microvm without ACPI) or when asked (`reboot=b`), by
jumping back into the BIOS at F000:FFF0 without any reset. The firmware must then
ask QEMU for a real reset, so that QEMU applies its policy: with `-no-reboot` the VM
ends; without it every device is reset and the guest boots again, seeing the same
machine. A real reset (QMP `system_reset`) must still boot normally.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, BootImages, make_machine

from minibios.images.init_script import HOLD_FLAG
from minibios.images.report import REPORT_RE, parse_report_json
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.tsc import TSC_OPTION, tsc_hint_khz

pytestmark = pytest.mark.boot

# `reboot -f` run by busybox as PID 1: the kernel restarts the machine at once.
# Arguments after `--` go to init, so every kernel option must come before it.
REBOOT_INIT = "rdinit=/sbin/reboot -- -f"
# Later options win over -no-reboot (reboot=shutdown): a guest reset resets the VM.
REBOOT_RESETS = ("-action", "reboot=reset")
# From Linux's "reboot: Restarting system" to QEMU's exit: the firmware's part takes
# microseconds, the rest is Linux's.
PROMPT = 5.0
# Linux's default order on microvm without ACPI: it polls the absent keyboard controller
# 1.3 million times (5-7 s under TCG on an idle 2-core host, 15 s and more on a busy
# one) before its BIOS restart.
KEYBOARD_FALLBACK = 40.0
BOOT_LINE = "Linux version"
RESTART_LINE = "reboot: Restarting system"
CPUS = 2


@dataclass(frozen=True)
class Case:
    machine: str
    acpi: bool = True
    mode: str | None = None  # Linux's reboot= option; None: its default order

    @property
    def prompt(self) -> float:
        """How soon after Linux's restart message QEMU must be gone (-no-reboot)."""
        no_reset = self.machine == "microvm" and not self.acpi and self.mode is None
        return KEYBOARD_FALLBACK if no_reset else PROMPT

    @property
    def id(self) -> str:
        acpi = "" if self.acpi else "-noacpi"
        mode = f"-reboot-{self.mode}" if self.mode else ""
        return f"{self.machine}{acpi}{mode}"


DEFAULT_PATHS = [Case("pc"), Case("q35"), Case("microvm"), Case("microvm", acpi=False)]
# b: BIOS restart (a jump to F000:FFF0, no reset); t: triple fault; k: keyboard
# controller; a: ACPI reset register; p: port 0xcf9. microvm has no keyboard controller.
MODES = [Case(m, mode=mode) for m in ("pc", "q35") for mode in "btkap"]
# The BIOS restart on both chipsets; every real reset on one.
AGAIN = [Case("pc", mode="b"), *(Case("q35", mode=mode) for mode in "btkap")]


def reboot_append(case: Case) -> str:
    """The kernel command line: verbose (the boot log is checked), then `reboot -f`."""
    parts = [BOOT_APPEND.replace(" quiet", "")]
    if case.mode:
        parts.append(f"reboot={case.mode}")
    # The launcher would append the microvm TSC hint after `--`, where init gets it.
    khz = tsc_hint_khz(case.machine, "tcg", None)
    if khz is not None:
        parts.append(f"{TSC_OPTION}{khz}")
    return " ".join([*parts, REBOOT_INIT])


def reboot_machine(
    images: BootImages, firmware: str, case: Case, extra: tuple[str, ...]
) -> Machine:
    return make_machine(
        firmware,
        kernel=images.kernel.vmlinuz,
        initrd=images.plain_initrd,
        append=reboot_append(case),
        machine=case.machine,
        microvm_acpi=case.acpi,
        cpus=CPUS,
        memory="256M",
        accel="tcg",
        extra_args=extra,
    )


@dataclass(frozen=True)
class BootLog:
    """What one boot's kernel log says about the machine it found."""

    e820: tuple[str, ...]
    memory_kb: int
    cpus: int


E820_RE = re.compile(r"BIOS-e820: (\[mem [^\]]+\] .+)")
MEMORY_RE = re.compile(r"Memory: \d+K/(\d+)K available")
SMP_RE = re.compile(r"smp: Brought up \d+ nodes?, (\d+) CPUs?")


def boot_log(text: str) -> BootLog:
    memory = MEMORY_RE.search(text)
    smp = SMP_RE.search(text)
    assert memory is not None and smp is not None, text[-3000:]
    return BootLog(
        tuple(m.group(1).strip() for m in E820_RE.finditer(text)),
        int(memory.group(1)),
        int(smp.group(1)),
    )


def cpu_reset_log(path: Path) -> tuple[str, ...]:
    """QEMU options that log every CPU reset (with the registers) to `path`."""
    return ("-d", "cpu_reset", "-D", str(path))


def cpu0_resets(path: Path) -> int:
    """How often QEMU has reset the first CPU so far (twice as it starts)."""
    return path.read_text(errors="replace").count("CPU Reset (CPU 0)")


@pytest.mark.parametrize("case", DEFAULT_PATHS + MODES, ids=lambda c: c.id)
def test_reboot_with_no_reboot_ends_the_vm(
    firmware: str, boot_images: BootImages, case: Case
) -> None:
    """-no-reboot: the guest's reboot ends QEMU promptly, after exactly one boot."""
    with reboot_machine(boot_images, firmware, case, ()) as vm:
        restart = vm.wait_for(RESTART_LINE, BOOT_TIMEOUT)
        restarted_at = time.monotonic()
        end = vm.wait_exit(case.prompt)
        waited = time.monotonic() - restarted_at
        console = vm.console
    assert end is VmEnd.RESET, f"{end}: {console[-3000:]}"
    assert waited < case.prompt
    assert console.count(BOOT_LINE) == 1, console[restart.end() :][-3000:]


@pytest.mark.parametrize("case", DEFAULT_PATHS + AGAIN, ids=lambda c: c.id)
def test_reboot_boots_the_same_machine_again(
    firmware: str, boot_images: BootImages, case: Case, tmp_path: Path
) -> None:
    """Without -no-reboot the guest reboots twice, each time through a machine reset
    (QEMU logs every CPU reset), and sees the same RAM, memory map and CPUs."""
    boots: list[BootLog] = []
    resets: list[int] = []
    log = tmp_path / "qemu.log"
    with reboot_machine(boot_images, firmware, case, (*REBOOT_RESETS, *cpu_reset_log(log))) as vm:
        since = 0
        for _ in range(3):
            start = vm.wait_for(BOOT_LINE, BOOT_TIMEOUT, since).start()
            resets.append(cpu0_resets(log))
            restart = vm.wait_for(RESTART_LINE, BOOT_TIMEOUT, start)
            boots.append(boot_log(vm.console[start : restart.start()]))
            since = restart.end()
    assert resets == [resets[0], resets[0] + 1, resets[0] + 2], "a reboot without a reset"
    assert boots[0].e820, "no BIOS-e820 lines in the kernel log"
    assert boots[1] == boots[0]
    assert boots[2] == boots[0]
    # Without ACPI the cloud kernel (no MP-table support) sees one CPU.
    assert boots[0].cpus == (CPUS if case.acpi else 1)


@pytest.mark.parametrize("case", [Case("pc"), Case("q35"), Case("microvm")], ids=lambda c: c.id)
def test_system_reset_boots_normally(firmware: str, boot_images: BootImages, case: Case) -> None:
    """A real reset (QMP system_reset) after a complete boot gives the same guest."""
    reports = []
    with make_machine(
        firmware,
        kernel=boot_images.kernel.vmlinuz,
        initrd=boot_images.plain_initrd,
        append=f"{BOOT_APPEND} {HOLD_FLAG}",
        machine=case.machine,
        cpus=CPUS,
        memory="256M",
        accel="tcg",
        extra_args=REBOOT_RESETS,
    ) as vm:
        since = 0
        for boot in range(2):
            match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT, since)
            reports.append(parse_report_json(match.group(1)))
            since = match.end()
            if boot == 0:
                vm.qmp.cmd("system_reset")
    assert reports[1] == reports[0]
    assert reports[0].cpus == CPUS
