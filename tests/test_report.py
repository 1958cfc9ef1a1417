import json

import pytest

from minibios.report import MemmapEntry, ReportError, find_report, parse_report
from minibios.report_format import format_report

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
    "acpi_tables": ["APIC", "DSDT"],
    "dmi": {"bios_vendor": "SeaBIOS", "sys_vendor": "QEMU"},
    "payload_sha256": "ab" * 32,
}


def console_with(line: str) -> str:
    return f"[    1.0] booting\nnoise MINIBIOS-REPORT {{}}\n{line}\n[    2.0] reboot: Power down\n"


def test_parse() -> None:
    report = parse_report(console_with("MINIBIOS-REPORT " + json.dumps(SAMPLE)))
    assert report.cpus == 2 and report.nproc_cpuinfo == 2
    assert report.memtotal_kb == 481052
    assert report.cmdline == 'console=ttyS0 x="a b" y=c\\d'
    assert report.memmap[1] == MemmapEntry(0x100000, 0x1FFDFFFF, "System RAM")
    assert report.memmap[0].size == 0x9FC00
    assert report.acpi_tables == ("APIC", "DSDT")
    assert report.dmi["bios_vendor"] == "SeaBIOS"
    assert report.payload_sha256 == "ab" * 32
    assert report.ram_bytes(start_at=0x100000) == 0x1FFE0000 - 0x100000


def test_shell_style_json_with_raw_control_characters() -> None:
    # /init escapes only backslash and quote; a tab may pass through as is.
    line = (
        'MINIBIOS-REPORT {"cpus":1,"nproc_cpuinfo":1,"memtotal_kb":null,'
        '"cmdline":"a\tb \\"q\\" \\\\","memmap":[],"acpi_tables":[],"dmi":{},'
        '"payload_sha256":null}'
    )
    report = parse_report(console_with(line))
    assert report.cmdline == 'a\tb "q" \\'
    assert report.memtotal_kb is None and report.payload_sha256 is None
    assert report.memmap == () and report.dmi == {}


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
        "APIC DSDT",
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
