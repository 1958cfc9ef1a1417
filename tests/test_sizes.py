import pytest

from minibios.sizes import GIB, MIB, SizeError, format_size, parse_memory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512M", 512 * MIB),
        ("512m", 512 * MIB),
        ("512", 512 * MIB),
        ("2G", 2 * GIB),
        ("1.5G", 1536 * MIB),
        ("1048576K", GIB),
        ("512MiB", 512 * MIB),
        ("512MB", 512 * MIB),
        (" 64M ", 64 * MIB),
        ("1T", 1024 * GIB),
    ],
)
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "M", "12X", "-1M", "1..5G", "0x10M", "lots", "5 12M"])
def test_parse_memory_rejects_garbage(text: str) -> None:
    with pytest.raises(SizeError, match="bad memory size"):
        parse_memory(text)


@pytest.mark.parametrize("text", ["0", "0M", "1K", "1.3M"])
def test_parse_memory_rejects_unusable(text: str) -> None:
    with pytest.raises(SizeError):
        parse_memory(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [(512 * MIB, "512 MiB"), (1536 * MIB, "1.5 GiB"), (2048, "2 KiB"), (12, "12 B")],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
