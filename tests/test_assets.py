from pathlib import Path

import pytest

from minibios.images.assets import (
    AssetError,
    find_kernel,
    kernel_and_modules,
    kernel_flavour,
    unpacked_kernel,
)


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


def test_a_given_kernel_brings_its_own_modules(tmp_path: Path) -> None:
    """exec --kernel: the agent loads modules of that build, not the cloud kernel's."""
    for version in ("6.1.0-56-cloud-amd64", "6.1.0-56-amd64"):
        unpack(tmp_path, version)
    generic = tmp_path / "kernels" / "6.1.0-56-amd64" / "boot" / "vmlinuz-6.1.0-56-amd64"
    found = kernel_and_modules(generic, tmp_path)
    assert (found.version, found.vmlinuz) == ("6.1.0-56-amd64", generic)
    assert (
        found.modules_dir == tmp_path / "kernels" / "6.1.0-56-amd64" / "lib/modules/6.1.0-56-amd64"
    )
    assert kernel_and_modules(None, tmp_path) == find_kernel(tmp_path)
    # No module tree beside it (a kernel built elsewhere): the cloud kernel's, as before.
    (tmp_path / "bzImage").write_bytes(b"kernel")
    assert kernel_and_modules(tmp_path / "bzImage", tmp_path) == find_kernel(tmp_path)
    assert unpacked_kernel(tmp_path / "bzImage") is None
    stray = tmp_path / "boot" / "vmlinuz-6.1.0-1-amd64"  # named so, but no modules
    stray.parent.mkdir()
    stray.write_bytes(b"kernel")
    assert unpacked_kernel(stray) is None
