from pathlib import Path

import pytest

from minibios.images.assets import AssetError, find_kernel, kernel_flavour


def unpack(cache: Path, version: str) -> None:
    """Lay out what `dpkg-deb -x` of a Debian kernel package leaves behind."""
    base = cache / "kernels" / version
    (base / "boot").mkdir(parents=True)
    (base / "boot" / f"vmlinuz-{version}").write_bytes(b"kernel")
    (base / "lib" / "modules" / version).mkdir(parents=True)


@pytest.mark.parametrize(
    ("version", "flavour"),
    [
        ("6.1.0-56-cloud-amd64", "cloud"),
        ("6.1.0-56-amd64", "generic"),
        ("6.12.9-1-amd64", "generic"),
        ("6.1.0-56-rt-amd64", None),
        ("6.1.0-56-cloud-arm64", None),
        ("vmlinuz", None),
    ],
)
def test_kernel_flavour(version: str, flavour: str | None) -> None:
    assert kernel_flavour(version) == flavour


def test_find_kernel_by_flavour(tmp_path: Path) -> None:
    for version in ("6.1.0-9-cloud-amd64", "6.1.0-56-cloud-amd64", "6.1.0-56-amd64"):
        unpack(tmp_path, version)
    unpack(tmp_path, "6.1.0-99-rt-amd64")
    cloud = find_kernel(tmp_path)
    assert cloud.version == "6.1.0-56-cloud-amd64"  # by number: 56 > 9
    base = tmp_path / "kernels" / cloud.version
    assert cloud.vmlinuz == base / "boot" / f"vmlinuz-{cloud.version}"
    assert cloud.modules_dir == base / "lib" / "modules" / cloud.version
    assert find_kernel(tmp_path, flavour="generic").version == "6.1.0-56-amd64"


def test_find_kernel_missing(tmp_path: Path) -> None:
    unpack(tmp_path, "6.1.0-56-cloud-amd64")
    with pytest.raises(AssetError, match=r"generic kernel \(linux-image-amd64\)"):
        find_kernel(tmp_path, flavour="generic")
    with pytest.raises(AssetError, match="unknown kernel flavour"):
        find_kernel(tmp_path, flavour="rt")
    with pytest.raises(AssetError, match="cloud kernel"):
        find_kernel(tmp_path / "empty")
