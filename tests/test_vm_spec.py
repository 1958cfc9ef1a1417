"""VmSpec: the one VM description and its QEMU command line."""

import itertools
import shlex
from pathlib import Path

import pytest

from minibios.firmware.choice import Firmware, FirmwareKind
from minibios.sizes import MIB
from minibios.vm.spec import Accel, MachineType, SpecError, VmSpec

SOCK = Path("/tmp/x/qmp.sock")


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


def test_common_arguments() -> None:
    config = VmSpec(
        machine="q35",
        cpus=2,
        memory=256 * MIB,
        firmware=Firmware("/fw.rom", Path("/fw.rom")),
        kernel=Path("/k"),
        initrd=Path("/i"),
        append="console=ttyS0 a=b",
        extra_args=("-name", "x", "-S"),
    )
    argv = config.argv(SOCK)
    assert argv[0] == "qemu-system-x86_64"
    for flag in ("-nodefaults", "-no-user-config", "-no-reboot"):
        assert flag in argv
    expected = [
        ("-display", "none"),
        ("-monitor", "none"),
        ("-M", "q35"),
        ("-accel", "tcg,tb-size=24"),  # the slim translation cache (bench-memory)
        ("-m", "256M"),
        ("-smp", "2"),
        ("-chardev", "stdio,id=con,signal=off"),
        ("-serial", "chardev:con"),
        ("-qmp", f"unix:{SOCK},server=on,wait=off"),
        ("-bios", "/fw.rom"),
        ("-kernel", "/k"),
        ("-initrd", "/i"),
        ("-append", "console=ttyS0 a=b"),
    ]
    for pair in expected:
        assert pair in pairs(argv)
    assert argv[-3:] == ["-name", "x", "-S"]
    assert not any(a.startswith(("-net", "-nic", "-netdev")) for a in argv)


def test_pc_defaults_and_optional_parts() -> None:
    argv = VmSpec().argv(SOCK)
    assert ("-M", "pc") in pairs(argv)
    for flag in ("-bios", "-kernel", "-initrd", "-append", "-cpu"):
        assert flag not in argv


def test_microvm() -> None:
    # ACPI on by default, as QEMU has it: the CPUs and power-off come through it.
    minibios = Firmware("minibios", Path("/rom"), FirmwareKind.MINIBIOS)
    spec = VmSpec(machine="microvm", firmware=minibios)
    assert spec.machine_arg() == "microvm,x-option-roms=off,acpi=on,rtc=on"
    # QEMU's own firmware (SeaBIOS) boots -kernel through the option ROMs.
    assert "x-option-roms=on" in VmSpec(machine="microvm").machine_arg()
    seabios = Firmware("seabios", Path("/s"), FirmwareKind.SEABIOS, needs_option_roms=True)
    bare = VmSpec(machine="microvm", microvm_acpi=False, firmware=seabios)
    assert bare.machine_arg() == "microvm,x-option-roms=on,acpi=off,rtc=on"


def test_kvm_uses_host_cpu() -> None:
    argv = VmSpec(accel="kvm").argv(SOCK)
    assert ("-accel", "kvm") in pairs(argv) and ("-cpu", "host") in pairs(argv)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"machine": "isapc"},
        {"cpus": 0},
        {"memory": 0},
        {"memory": 512 * MIB + 1},
        {"accel": "auto"},
    ],
)
def test_invalid(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError):
        VmSpec(**kwargs)


def test_strings_become_enums() -> None:
    spec = VmSpec(machine="microvm", accel="kvm")
    assert spec.machine is MachineType.MICROVM and spec.accel is Accel.KVM


def test_shell_command_quotes_what_a_shell_would_split() -> None:
    spec = VmSpec(kernel=Path("/k"), append="console=ttyS0 x='y z'")
    command = spec.shell_command(SOCK)
    assert shlex.split(command) == spec.argv(SOCK)
    assert "'console=ttyS0 x='\"'\"'y z'\"'\"''" in command


def test_qemu_runs_sandboxed(tmp_path) -> None:
    argv = VmSpec().argv(tmp_path / "qmp")
    assert argv[argv.index("-sandbox") + 1].startswith("on,")
