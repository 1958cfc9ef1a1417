"""QEMU's ACPI table-loader interpreter (firmware/table_loader.c)."""

from __future__ import annotations

import struct

from fwhost import HostFirmware
from hypothesis import given, settings
from hypothesis import strategies as st
from loader_fake import (
    ZONE_FSEG,
    ZONE_HIGH,
    FakeMachine,
    add_checksum,
    add_pointer,
    allocate,
    script,
    write_pointer,
)


def test_allocate_pointers_and_checksum(console: HostFirmware) -> None:
    fw = console
    tables = bytearray(64)
    tables[10:14] = struct.pack("<I", 0x10)  # offset into the rsdp's target
    rsdp = bytearray(b"RSD PTR " + bytes(12))
    m = FakeMachine({"etc/acpi/tables": bytes(tables), "etc/acpi/rsdp": bytes(rsdp)})
    tl = m.run(
        fw,
        script(
            allocate("etc/acpi/rsdp", 16, ZONE_FSEG),
            allocate("etc/acpi/tables", 64, ZONE_HIGH),
            add_pointer("etc/acpi/tables", "etc/acpi/tables", 10, 4),
            add_pointer("etc/acpi/rsdp", "etc/acpi/tables", 16, 4),
            add_checksum("etc/acpi/rsdp", 8, 0, 20),
        ),
    )
    assert tl.warnings == 0, fw.console()
    base = m.address(tl, "etc/acpi/tables")
    assert base % 64 == 0
    assert struct.unpack_from("<I", m.blob(tl, "etc/acpi/tables"), 10)[0] == base + 0x10
    placed = m.blob(tl, "etc/acpi/rsdp")
    assert struct.unpack_from("<I", placed, 16)[0] == base
    assert sum(placed[:20]) % 256 == 0
    assert m.address(tl, "etc/acpi/rsdp") % 16 == 0


def test_pointer_sizes_1_2_4_8(fw: HostFirmware) -> None:
    m = FakeMachine({"a": bytes(32), "b": bytes(8)})
    cmds = [allocate("b", 4096), allocate("a")]
    cmds += [add_pointer("a", "b", off, size) for off, size in ((0, 1), (2, 2), (4, 4), (8, 8))]
    tl = m.run(fw, script(*cmds))
    b = m.address(tl, "b")
    a = m.blob(tl, "a")
    assert a[0] == b & 0xFF
    assert struct.unpack_from("<H", a, 2)[0] == b & 0xFFFF
    assert struct.unpack_from("<I", a, 4)[0] == b
    assert struct.unpack_from("<Q", a, 8)[0] == b


def test_write_pointer_goes_back_to_qemu(fw: HostFirmware) -> None:
    m = FakeMachine({"etc/vmgenid_guid": bytes(4096), "etc/vmgenid_addr": bytes(8)})
    tl = m.run(
        fw,
        script(
            allocate("etc/vmgenid_guid", 4096),
            write_pointer("etc/vmgenid_addr", "etc/vmgenid_guid", 0, 40, 8),
        ),
    )
    assert tl.warnings == 0
    assert m.pointer_writes == [("etc/vmgenid_addr", 0, m.address(tl, "etc/vmgenid_guid") + 40, 8)]


def test_unknown_and_malformed_commands_are_skipped_with_a_warning(console: HostFirmware) -> None:
    fw = console
    m = FakeMachine({"a": bytes(16), "b": bytes(16), "p": bytes(4)})
    tl = m.run(
        fw,
        script(
            struct.pack("<I", 99),  # unknown command
            allocate("missing"),
            allocate("a", 3),  # not a power of two
            allocate("a", 16, 7),  # no such zone
            allocate("a"),
            allocate("a"),  # twice
            add_pointer("a", "nowhere", 0, 4),
            add_pointer("a", "a", 0, 3),  # pointer size 3
            add_pointer("a", "a", 14, 4),  # runs past the end
            add_checksum("a", 16, 0, 4),  # checksum byte outside
            add_checksum("a", 0, 8, 9),  # range past the end
            write_pointer("p", "a", 2, 0, 4),  # past the end of p
            write_pointer("p", "a", 0, 16, 4),  # source offset outside a
            struct.pack("<I", 0),  # padding: silent
            allocate("b"),  # still runs after all that
        ),
    )
    assert tl.warnings == 12
    assert "skipped unknown command 99" in fw.console()
    assert "pointer" in fw.console().lower()
    assert m.pointer_writes == []
    assert m.blob(tl, "a") == bytes(16)
    assert m.blob(tl, "b") == bytes(16)


def test_zone_exhaustion_is_a_warning(console: HostFirmware) -> None:
    m = FakeMachine({"big": bytes(8192)}, zone_room={ZONE_HIGH: 4096, ZONE_FSEG: 0})
    tl = m.run(console, script(allocate("big")))
    assert tl.warnings == 1
    assert tl.nblobs == 0


names = st.sampled_from(["a", "b", "c", "missing"])
offsets = st.one_of(st.integers(0, 80), st.integers(2**32 - 16, 2**32 - 1))
commands = st.one_of(
    st.builds(
        allocate,
        names,
        st.sampled_from([0, 1, 2, 3, 16, 64, 4096, 2**31]),
        st.sampled_from([0, 1, 2, 3]),
    ),
    st.builds(add_pointer, names, names, offsets, st.integers(0, 9)),
    st.builds(add_checksum, names, offsets, offsets, offsets),
    st.builds(write_pointer, names, names, offsets, offsets, st.integers(0, 9)),
    st.binary(min_size=4, max_size=128),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(commands, max_size=30),
    st.dictionaries(names, st.binary(max_size=64), max_size=4),
    st.binary(max_size=127),
)
def test_hostile_scripts_never_write_outside_allocations(
    fw: HostFirmware, cmds: list[bytes], files: dict[str, bytes], tail: bytes
) -> None:
    m = FakeMachine(files)
    tl = m.run(fw, script(*cmds) + tail)
    assert tl.nblobs <= len(files)
    assert all(a.guards_intact() for a in m.allocations)
    for name, offset, _value, size in m.pointer_writes:
        assert size in (1, 2, 4, 8)
        assert offset + size <= len(files[name])
