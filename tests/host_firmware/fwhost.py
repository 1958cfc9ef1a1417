"""ctypes bindings to the firmware's C logic built for the host (make -C firmware host)."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from minibios.firmware.rom import run_make

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
E820_MAX = 128
MP_MAX_CPUS, MP_MAX_PCI_IRQS = 255, 256


class E820Entry(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("addr", ctypes.c_uint64), ("size", ctypes.c_uint64), ("type", ctypes.c_uint32)]


class E820Map(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint32), ("entry", E820Entry * E820_MAX)]

    def ranges(self) -> list[tuple[int, int, int]]:
        return [
            (e.addr, e.addr + e.size, e.type) for e in (self.entry[i] for i in range(self.count))
        ]


class LinuxImage(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint32)
        for name in (
            "setup_size",
            "kernel_addr",
            "kernel_size",
            "cmdline_size",
            "initrd_size",
            "initrd_addr",
            "qemu_kernel_addr",
        )
    ]


_U8, _U16, _U32, _U64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64


class SetupHeader(ctypes.Structure):
    """The bzImage's setup header, at 0x1f1 of the setup block and of boot_params."""

    _pack_ = 1
    _fields_ = [
        ("setup_sects", _U8),
        ("root_flags", _U16),
        ("syssize", _U32),
        ("ram_size", _U16),
        ("vid_mode", _U16),
        ("root_dev", _U16),
        ("boot_flag", _U16),
        ("jump", _U16),
        ("header", _U32),
        ("version", _U16),
        ("realmode_swtch", _U32),
        ("start_sys_seg", _U16),
        ("kernel_version", _U16),
        ("type_of_loader", _U8),
        ("loadflags", _U8),
        ("setup_move_size", _U16),
        ("code32_start", _U32),
        ("ramdisk_image", _U32),
        ("ramdisk_size", _U32),
        ("bootsect_kludge", _U32),
        ("heap_end_ptr", _U16),
        ("ext_loader_ver", _U8),
        ("ext_loader_type", _U8),
        ("cmd_line_ptr", _U32),
        ("initrd_addr_max", _U32),
        ("kernel_alignment", _U32),
        ("relocatable_kernel", _U8),
        ("min_alignment", _U8),
        ("xloadflags", _U16),
        ("cmdline_size", _U32),
        ("hardware_subarch", _U32),
        ("hardware_subarch_data", _U64),
        ("payload_offset", _U32),
        ("payload_length", _U32),
        ("setup_data", _U64),
        ("pref_address", _U64),
        ("init_size", _U32),
        ("handover_offset", _U32),
        ("kernel_info_offset", _U32),
    ]


class BootParams(ctypes.Structure):
    """The zero page the firmware fills for the 32/64-bit Linux entries."""

    _pack_ = 1
    _fields_ = [
        ("_pad_0x000", _U8 * 0x070),
        ("acpi_rsdp_addr", _U64),
        ("_pad_0x078", _U8 * (0x0C0 - 0x078)),
        ("ext_ramdisk_image", _U32),
        ("ext_ramdisk_size", _U32),
        ("ext_cmd_line_ptr", _U32),
        ("_pad_0x0cc", _U8 * (0x1E0 - 0x0CC)),
        ("alt_mem_k", _U32),
        ("_pad_0x1e4", _U8 * (0x1E8 - 0x1E4)),
        ("e820_entries", _U8),
        ("_pad_0x1e9", _U8 * (0x1F1 - 0x1E9)),
        ("hdr", SetupHeader),
        ("_pad_0x26c", _U8 * (0x2D0 - 0x26C)),
        ("e820_table", E820Entry * E820_MAX),
        ("_pad_0xcd0", _U8 * (0x1000 - 0xCD0)),
    ]


class MultibootInfo(ctypes.Structure):
    """Multiboot (v1) boot information, as QEMU builds it and the firmware completes it."""

    _pack_ = 1
    _fields_ = [
        ("flags", _U32),
        ("mem_lower", _U32),
        ("mem_upper", _U32),
        ("boot_device", _U32),
        ("cmdline", _U32),
        ("mods_count", _U32),
        ("mods_addr", _U32),
        ("syms", _U32 * 4),
        ("mmap_length", _U32),
        ("mmap_addr", _U32),
        ("drives_length", _U32),
        ("drives_addr", _U32),
        ("config_table", _U32),
        ("boot_loader_name", _U32),
        ("apm_table", _U32),
        ("vbe_control_info", _U32),
        ("vbe_mode_info", _U32),
        ("vbe_mode", _U16),
        ("vbe_interface_seg", _U16),
        ("vbe_interface_off", _U16),
        ("vbe_interface_len", _U16),
    ]


class BiosMemory(ctypes.Structure):
    _fields_ = [
        ("ext_kb", ctypes.c_uint16),
        ("e801_low_kb", ctypes.c_uint16),
        ("e801_high_64k", ctypes.c_uint16),
    ]


class MsrWrite(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("msr", ctypes.c_uint32), ("lo", ctypes.c_uint32), ("hi", ctypes.c_uint32)]

    @property
    def value(self) -> int:
        return self.lo | self.hi << 32


class LoaderBlob(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 56),
        ("data", ctypes.c_void_p),
        ("addr", ctypes.c_uint64),
        ("size", ctypes.c_uint32),
    ]


LOOKUP = ctypes.CFUNCTYPE(
    ctypes.c_bool,
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_uint32),
    ctypes.POINTER(ctypes.c_uint16),
)
ALLOC = ctypes.CFUNCTYPE(
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_uint8,
    ctypes.c_uint32,
    ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_uint64),
)
LOAD = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16, ctypes.c_void_p, ctypes.c_uint32)
WRITE_POINTER = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint8
)


class LoaderOps(ctypes.Structure):
    _fields_ = [
        ("ctx", ctypes.c_void_p),
        ("lookup", LOOKUP),
        ("alloc", ALLOC),
        ("load", LOAD),
        ("write_pointer", WRITE_POINTER),
    ]


class TableLoader(ctypes.Structure):
    _fields_ = [
        ("ops", ctypes.POINTER(LoaderOps)),
        ("blobs", ctypes.POINTER(LoaderBlob)),
        ("nblobs", ctypes.c_uint32),
        ("max_blobs", ctypes.c_uint32),
        ("warnings", ctypes.c_uint32),
    ]


class FwCfgFile(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("be_size", ctypes.c_uint32),
        ("be_select", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16),
        ("name", ctypes.c_char * 56),
    ]


class FwCfgDir(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint32), ("files", ctypes.POINTER(FwCfgFile))]


class MpPciIrq(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint8) for n in ("bus", "slot", "intx", "ioapic_pin")]


class MpConfig(ctypes.Structure):
    _fields_ = [
        ("ncpus", ctypes.c_uint32),
        ("apic_id", ctypes.c_uint8 * MP_MAX_CPUS),
        ("cpu_signature", ctypes.c_uint32),
        ("cpu_features", ctypes.c_uint32),
        ("ioapic_id", ctypes.c_uint8),
        ("ioapic_addr", ctypes.c_uint32),
        ("irq0_pin", ctypes.c_uint8),
        ("pci_irq_mask", ctypes.c_uint16),
        ("pci_buses", ctypes.c_uint8),
        ("npci_irqs", ctypes.c_uint32),
        ("pci_irq", MpPciIrq * MP_MAX_PCI_IRQS),
    ]


# Every ctypes mirror, by the name of the C struct it mirrors; test_fw_layout
# checks each against the layout the C compiler gave (harness_layouts).
MIRRORS: dict[str, type[ctypes.Structure]] = {
    "e820_entry": E820Entry,
    "e820_map": E820Map,
    "linux_image": LinuxImage,
    "setup_header": SetupHeader,
    "boot_params": BootParams,
    "multiboot_info": MultibootInfo,
    "bios_memory": BiosMemory,
    "msr_write": MsrWrite,
    "loader_blob": LoaderBlob,
    "table_loader_ops": LoaderOps,
    "table_loader": TableLoader,
    "fw_cfg_file": FwCfgFile,
    "fw_cfg_dir": FwCfgDir,
    "mp_pci_irq": MpPciIrq,
    "mp_config": MpConfig,
}


class Layout(ctypes.Structure):
    """One row of the harness's layout table: a struct's sizeof, or a field's offset."""

    _fields_ = [
        ("type", ctypes.c_char_p),
        ("field", ctypes.c_char_p),
        ("offset", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
    ]


class Constant(ctypes.Structure):
    """One row of the harness's table of #defines that Python also reads."""

    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_uint32)]


@dataclass(frozen=True)
class HostFirmware:
    """The loaded library with its functions typed."""

    lib: ctypes.CDLL

    def console(self) -> str:
        return self.lib.harness_console().decode(errors="replace")

    def layouts(self) -> dict[str, dict[str | None, tuple[int, int]]]:
        """The C layout of each mirrored struct: {struct: {field: (offset, size)}},
        the struct itself under None (offset 0)."""
        count = ctypes.c_uint32()
        rows = self.lib.harness_layouts(ctypes.byref(count))
        found: dict[str, dict[str | None, tuple[int, int]]] = {}
        for row in rows[: count.value]:
            field = row.field.decode() if row.field is not None else None
            found.setdefault(row.type.decode(), {})[field] = (row.offset, row.size)
        return found

    def constants(self) -> dict[str, int]:
        """The #defines the harness exports, with the values the compiler gave them."""
        count = ctypes.c_uint32()
        rows = self.lib.harness_constants(ctypes.byref(count))
        return {row.name.decode(): row.value for row in rows[: count.value]}


def build_host_library() -> Path:
    """Build (incrementally) and return the library; MINIBIOS_HOST_LIB overrides it."""
    override = os.environ.get("MINIBIOS_HOST_LIB")
    if override:
        return Path(override)
    result = run_make(FIRMWARE_DIR, "-s", "host")  # locked: xdist workers take turns
    assert result.returncode == 0, f"make host failed:\n{result.stdout}{result.stderr}"
    return FIRMWARE_DIR / "build" / "host" / "libminibios.so"


def load(path: Path) -> HostFirmware:
    lib = ctypes.CDLL(str(path))
    sigs: dict[str, tuple[object, list[object]]] = {
        "e820_set": (
            ctypes.c_bool,
            [ctypes.POINTER(E820Map), ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32],
        ),
        "e820_ram_end": (ctypes.c_uint64, [ctypes.POINTER(E820Map), ctypes.c_uint64]),
        "linux_check_setup": (ctypes.c_char_p, [ctypes.c_char_p, ctypes.POINTER(LinuxImage)]),
        "linux_place": (
            ctypes.c_char_p,
            [ctypes.c_char_p, ctypes.POINTER(LinuxImage), ctypes.c_uint64],
        ),
        "linux_patch_header": (
            None,
            [ctypes.c_char_p, ctypes.POINTER(LinuxImage), ctypes.c_uint32],
        ),
        "linux_pick_protocol": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint]),
        "linux_relocate_setup_data": (
            None,
            [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32],
        ),
        "linux_fill_boot_params": (
            None,
            [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.POINTER(LinuxImage),
                ctypes.POINTER(E820Map),
                ctypes.c_uint32,
                ctypes.c_uint64,
            ],
        ),
        "identity_map": (ctypes.c_uint32, [ctypes.c_uint32, ctypes.c_uint64]),
        "multiboot_block_base": (ctypes.c_uint32, [ctypes.c_uint32, ctypes.c_uint32]),
        "multiboot_mem_upper_kb": (ctypes.c_uint32, [ctypes.POINTER(E820Map)]),
        "multiboot_write_info": (
            ctypes.c_uint32,
            [
                ctypes.c_uint32,
                ctypes.c_char_p,
                ctypes.c_uint32,
                ctypes.POINTER(E820Map),
                ctypes.c_uint32,
            ],
        ),
        "pvh_fill_start_info": (
            ctypes.c_uint32,
            [
                ctypes.c_uint32,
                ctypes.POINTER(E820Map),
                ctypes.c_uint32,
                ctypes.c_uint32,
                ctypes.c_uint32,
                ctypes.c_uint64,
            ],
        ),
        "harness_set_ram": (None, [ctypes.c_void_p, ctypes.c_uint64]),
        "harness_stray_accesses": (ctypes.c_uint32, []),
        "bios_memory_from": (BiosMemory, [ctypes.c_uint64]),
        "table_loader_run": (
            None,
            [ctypes.POINTER(TableLoader), ctypes.c_char_p, ctypes.c_uint32],
        ),
        "smbios_has_type": (ctypes.c_bool, [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint8]),
        "smbios_type0": (ctypes.c_uint32, [ctypes.c_char_p, ctypes.c_uint32]),
        "smbios_patch_entry": (
            ctypes.c_bool,
            [
                ctypes.c_char_p,
                ctypes.c_uint32,
                ctypes.c_uint32,
                ctypes.c_uint32,
                ctypes.c_uint16,
                ctypes.c_uint16,
            ],
        ),
        "pir_build": (ctypes.c_uint32, [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int]),
        "pci_slot_pirq": (ctypes.c_uint, [ctypes.c_int, ctypes.c_uint, ctypes.c_uint]),
        "mptable_build": (
            ctypes.c_uint32,
            [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p],
        ),
        "mtrr_plan": (
            ctypes.c_uint32,
            [ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(MsrWrite)],
        ),
        "harness_console": (ctypes.c_char_p, []),
        "harness_layouts": (ctypes.POINTER(Layout), [ctypes.POINTER(ctypes.c_uint32)]),
        "harness_constants": (ctypes.POINTER(Constant), [ctypes.POINTER(ctypes.c_uint32)]),
        "mptable_size": (ctypes.c_uint32, [ctypes.POINTER(MpConfig)]),
        "mp_config_from_madt": (None, [ctypes.POINTER(MpConfig), ctypes.c_void_p]),
        "acpi_find_table": (ctypes.c_void_p, [ctypes.c_uint32, ctypes.c_char_p]),
        "harness_reset_console": (None, []),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return HostFirmware(lib)
