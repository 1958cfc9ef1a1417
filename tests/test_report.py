import json

import pytest

from minibios.cli.report_format import format_report
from minibios.images.report import (
    MemmapEntry,
    ReportError,
    acpi_signature,
    find_report,
    parse_report,
    smbios_entry_version,
)

SAMPLE = {
    "cpus": 2,
    "nproc_cpuinfo": 2,
    "memtotal_kb": 481052,
    "cmdline": 'console=ttyS0 x="a b" y=c\\d',
    "memmap": [
        {"start": "0x0", "end": "0x9fbff", "type": "System RAM"},
        {"start": "0x100000", "end": "0x1ffdffff", "type": "System RAM"},
        {"start": "0xfffc0000", "end": "0xffffffff", "type": "Reserved"},
    ],
    "acpi_tables": ["APIC", "DSDT", "SSDT2", "SSDT1"],
    # A 2.1 entry point announcing SMBIOS 2.8, as /init dumps it.
    "smbios_entry_point": "5f534d5f1f1f0208000000000000005f",
    "dmi": {"bios_vendor": "SeaBIOS", "sys_vendor": "QEMU"},
    "block_devices": ["pmem0", "vda"],
    "payload_sha256": "ab" * 32,
}
# QEMU's 3.0 entry point: anchor, checksum, length 0x18, SMBIOS 3.0, docrev 0, revision 1.
SMBIOS3_ENTRY = b"_SM3_" + bytes([0xC3, 0x18, 3, 0, 0, 1, 0])


def console_with(line: str) -> str:
    return f"[    1.0] booting\nnoise MINIBIOS-REPORT {{}}\n{line}\n[    2.0] reboot: Power down\n"


def test_parse() -> None:
    report = parse_report(console_with("MINIBIOS-REPORT " + json.dumps(SAMPLE)))
    assert report.cpus == 2 and report.nproc_cpuinfo == 2
    assert report.memtotal_kb == 481052
    assert report.cmdline == 'console=ttyS0 x="a b" y=c\\d'
    assert report.memmap[1] == MemmapEntry(0x100000, 0x1FFDFFFF, "System RAM")
    assert report.memmap[0].size == 0x9FC00
    assert report.acpi_tables == ("APIC", "DSDT", "SSDT2", "SSDT1")
    assert report.acpi_signatures == ("APIC", "DSDT", "SSDT", "SSDT")
    assert report.smbios_entry == "2.8"
    assert report.block_devices == ("pmem0", "vda")
    assert report.dmi["bios_vendor"] == "SeaBIOS"
    assert report.payload_sha256 == "ab" * 32
    assert report.ram_bytes(start_at=0x100000) == 0x1FFE0000 - 0x100000


def test_shell_style_json_with_raw_control_characters() -> None:
    # /init escapes only backslash and quote; a tab may pass through as is.
    line = (
        'MINIBIOS-REPORT {"cpus":1,"nproc_cpuinfo":1,"memtotal_kb":null,'
        '"cmdline":"a\tb \\"q\\" \\\\","memmap":[],"acpi_tables":[],'
        '"smbios_entry_point":null,"dmi":{},"block_devices":[],"payload_sha256":null}'
    )
    report = parse_report(console_with(line))
    assert report.cmdline == 'a\tb "q" \\'
    assert report.memtotal_kb is None and report.payload_sha256 is None
    assert report.memmap == () and report.dmi == {}
    assert report.smbios_entry_point is None and report.smbios_entry is None
    assert report.block_devices == ()


def test_missing_line() -> None:
    assert find_report("nothing here\n") is None
    with pytest.raises(ReportError, match="no MINIBIOS-REPORT"):
        parse_report("nothing here\n")


@pytest.mark.parametrize(
    "body",
    [
        "{not json}",
        '{"cpus": 1}',
        json.dumps({**SAMPLE, "cpus": "two"}),
        json.dumps({**SAMPLE, "memmap": [{"start": "0xZZ", "end": "0x1", "type": "x"}]}),
        json.dumps({**SAMPLE, "cpus": True}),
        json.dumps({**SAMPLE, "smbios_entry_point": "5f534dZZ"}),
        json.dumps({k: v for k, v in SAMPLE.items() if k != "block_devices"}),
    ],
)
def test_malformed(body: str) -> None:
    with pytest.raises(ReportError):
        parse_report(console_with("MINIBIOS-REPORT " + body))


def test_format_report_mentions_everything() -> None:
    text = format_report(parse_report(console_with("MINIBIOS-REPORT " + json.dumps(SAMPLE))))
    for needle in (
        "2 (2 in /proc/cpuinfo)",
        "481052 kB",
        'x="a b"',
        "0x0000000000100000",
        "APIC DSDT SSDT2 SSDT1",
        "SMBIOS entry    2.8",
        "block devices   pmem0 vda",
        "bios_vendor: SeaBIOS",
        "ab" * 32,
    ):
        assert needle in text


def test_line_still_arriving_is_not_a_report() -> None:
    # A partial line can end in "}" (e.g. after the dmi object); only a full line counts.
    partial = "MINIBIOS-REPORT " + json.dumps(SAMPLE)[:-30]
    partial = partial[: partial.rindex("}") + 1]
    assert find_report("boot\n" + partial) is None
    assert find_report("boot\n" + "MINIBIOS-REPORT " + json.dumps(SAMPLE) + "\n") is not None


@pytest.mark.parametrize(
    ("entry", "version"),
    [
        (bytes.fromhex(SAMPLE["smbios_entry_point"]), "2.8"),  # type: ignore[arg-type]
        (b"_SM_\x1f\x1f\x02\x04", "2.4"),
        (SMBIOS3_ENTRY, "3.0"),
        (SMBIOS3_ENTRY[:7] + b"\x03\x02", "3.2"),
        # The 3.0 anchor keeps its version one byte later (2.1 offsets: "24.3").
        (b"_SM3_\xaa\x18\x03\x05", "3.5"),
        # Too short to hold a version.
        (b"_SM3_\x00\x18\x03", None),
        (b"_SM_\x1f\x1f\x02", None),
        (b"_DMI_\x00\x00\x00\x00", None),
        (b"", None),
    ],
)
def test_smbios_entry_version(entry: bytes, version: str | None) -> None:
    assert smbios_entry_version(entry) == version


@pytest.mark.parametrize(
    ("name", "signature"),
    [("SSDT", "SSDT"), ("SSDT1", "SSDT"), ("SSDT12", "SSDT"), ("DBG2", "DBG2"), ("FACP", "FACP")],
)
def test_acpi_signature(name: str, signature: str) -> None:
    assert acpi_signature(name) == signature


def test_format_report_smbios_edge_cases() -> None:
    none = parse_report(
        console_with("MINIBIOS-REPORT " + json.dumps({**SAMPLE, "smbios_entry_point": None}))
    )
    assert "SMBIOS entry    (none)" in format_report(none)
    odd = parse_report(
        console_with("MINIBIOS-REPORT " + json.dumps({**SAMPLE, "smbios_entry_point": "00ff"}))
    )
    assert "SMBIOS entry    unknown" in format_report(odd)
