"""The VM options, declared once for every command, and the VmSpec they describe."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from minibios.firmware.choice import BOOT_PROTOCOLS, resolve_firmware
from minibios.images.entry import ENTRY_MODES, Entry
from minibios.sizes import parse_memory
from minibios.vm.accel import ACCEL_CHOICES, choose_accel
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.spec import DEFAULT_MICROVM_ACPI, VmSpec


@dataclass(frozen=True)
class Option:
    """One command-line option: its flags and argparse settings (`help` may use %(default)s)."""

    flags: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)


OPTIONS: Mapping[str, Option] = MappingProxyType(
    {
        "kernel": Option(("--kernel",), {"help": "bzImage or ELF kernel"}),
        "initrd": Option(("--initrd",), {"help": "initramfs / initrd file"}),
        "append": Option(
            ("--append",), {"default": "console=ttyS0", "help": "kernel command line"}
        ),
        "machine": Option(
            ("--machine",), {"default": "pc", "help": "pc, q35 or microvm (default pc)"}
        ),
        "cpus": Option(("--cpus",), {"type": int, "default": 1, "help": "vCPUs (default 1)"}),
        "memory": Option(
            ("--memory",), {"default": "512M", "help": "RAM, QEMU -m syntax (default %(default)s)"}
        ),
        "firmware": Option(
            ("--firmware",),
            {
                "default": "minibios",
                "help": "minibios, seabios, qboot or a ROM file (default minibios)",
            },
        ),
        "accel": Option(
            ("--accel",),
            {"default": "auto", "help": f"{', '.join(ACCEL_CHOICES)} (default auto)"},
        ),
        "microvm_acpi": Option(
            ("--microvm-acpi",),
            {
                "action": argparse.BooleanOptionalAction,
                "default": DEFAULT_MICROVM_ACPI,
                "help": "microvm only: let QEMU build ACPI tables (default on)",
            },
        ),
        "entry": Option(
            ("--entry",),
            {
                "choices": [str(mode) for mode in ENTRY_MODES],
                "default": str(Entry.AUTO),
                "help": "pvh: unpack the bzImage's vmlinux (cached) and boot it through its PVH "
                "entry, no kernel copy by the firmware, no decompression in the guest; bzimage: "
                "boot the bzImage itself; auto (default): pvh when the kernel allows it, else "
                "bzimage",
            },
        ),
        # --entry's earlier spelling, kept working for existing scripts.
        "pvh": Option(
            ("--pvh",),
            {
                "action": "store_const",
                "const": str(Entry.PVH),
                "dest": "entry",
                "help": argparse.SUPPRESS,
            },
        ),
        "protocol": Option(
            ("--protocol",),
            {
                "type": int,
                "choices": BOOT_PROTOCOLS,
                "help": "minibios only: enter the bzImage through its 16-bit setup code or "
                "straight in 32/64-bit mode (default: 64-bit when the kernel has it); implies "
                "--entry bzimage",
            },
        ),
        "timeout": Option(
            ("--timeout",),
            {
                "type": float,
                "default": 120.0,
                "help": "seconds before the VM is stopped (default %(default)g)",
            },
        ),
        "qemu": Option(
            ("--qemu",),
            {
                "help": "the QEMU binary to run (default: qemu-system-x86_64, or its "
                "microvm-only build for --machine microvm under KVM)",
            },
        ),
        "show_command": Option(
            ("--show-command",),
            {
                "action": "store_true",
                "help": "print QEMU's command line, shell-quoted, to stderr as it starts",
            },
        ),
        "dry_run": Option(
            ("--dry-run",),
            {
                "action": "store_true",
                "help": "check everything and print QEMU's command line to stderr, "
                "but start nothing",
            },
        ),
    }
)
BOOT_OPTIONS = ("machine", "cpus", "memory", "firmware", "accel", "microvm_acpi", "entry", "pvh",
                "protocol", "timeout", "qemu", "show_command", "dry_run")  # fmt: skip


def add_options(parser: argparse.ArgumentParser, *names: str, **changes: Mapping[str, Any]) -> None:
    """Add OPTIONS `names` to `parser`; `changes[name]` overrides some of its settings."""
    for name in names:
        option = OPTIONS[name]
        parser.add_argument(*option.flags, **{**option.settings, **changes.get(name, {})})


def vm_spec(args: argparse.Namespace, **given: Any) -> VmSpec:
    """The VmSpec the parsed options describe; `given` fields win over them.

    The firmware is resolved here (minibios's ROM rebuilt if stale) and the
    accelerator chosen; errors are InputErrors, as preflight's are. A command
    without an option gets VmSpec's default (the bench sets accel in the parser).
    """
    options = vars(args)
    machine = given.get("machine", options.get("machine", "pc"))
    accel = given.get("accel", choose_accel(options.get("accel", "auto")))
    fields: dict[str, Any] = {
        "machine": machine,
        "cpus": options.get("cpus", 1),
        "memory": parse_memory(options.get("memory", "512M")),
        "accel": accel,
        "microvm_acpi": options.get("microvm_acpi", DEFAULT_MICROVM_ACPI),
        "append": options.get("append"),
        "boot_protocol": options.get("protocol"),
        # The microvm-only build under KVM, else the full one (vm/qemu_binary.py).
        "qemu": choose_qemu(str(machine), str(accel), options.get("qemu")).path,
    }
    if options.get("initrd") is not None:
        fields["initrd"] = Path(options["initrd"])
    if "firmware" not in given:
        fields["firmware"] = resolve_firmware(options.get("firmware", "minibios"), machine)
    return VmSpec(**(fields | given))
