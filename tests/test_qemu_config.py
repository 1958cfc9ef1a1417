import itertools
from pathlib import Path

import pytest

from minibios.sizes import MIB
from minibios.vm.spec import QemuConfig, QemuConfigError

SOCK = Path("/tmp/x/qmp.sock")


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


def test_common_arguments() -> None:
    config = QemuConfig(
        machine="q35",
        cpus=2,
        memory=256 * MIB,
        firmware=Path("/fw.rom"),
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
    argv = QemuConfig().argv(SOCK)
    assert ("-M", "pc") in pairs(argv)
    for flag in ("-bios", "-kernel", "-initrd", "-append", "-cpu"):
        assert flag not in argv


def test_microvm() -> None:
    # ACPI on by default, as QEMU has it: the CPUs and power-off come through it.
    assert QemuConfig(machine="microvm").machine_arg() == (
        "microvm,x-option-roms=off,acpi=on,rtc=on"
    )
    bare = QemuConfig(machine="microvm", microvm_acpi=False, microvm_option_roms=True)
    assert bare.machine_arg() == "microvm,x-option-roms=on,acpi=off,rtc=on"


def test_kvm_uses_host_cpu() -> None:
    argv = QemuConfig(accel="kvm").argv(SOCK)
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
    with pytest.raises(QemuConfigError):
        QemuConfig(**kwargs)


def test_qemu_runs_sandboxed(tmp_path) -> None:
    argv = QemuConfig().argv(tmp_path / "qmp")
    assert argv[argv.index("-sandbox") + 1].startswith("on,")
