import gzip
import hashlib
import lzma
import stat
from pathlib import Path

import pytest

from minibios.images.assets import find_busybox
from minibios.images.cpio import read_cpio
from minibios.images.init_script import HOLD_FLAG, render_init
from minibios.images.initramfs import (
    InitramfsError,
    InitramfsSpec,
    build_initramfs,
    cache_key,
    find_module,
    find_modules,
    module_depends,
    write_initramfs,
)


@pytest.fixture(scope="module")
def busybox() -> Path:
    return find_busybox()


def entries_of(image: Path, compressed: bool = True) -> dict:  # type: ignore[type-arg]
    data = image.read_bytes()
    return {e.name: e for e in read_cpio(gzip.decompress(data) if compressed else data)}


def test_image_contents(tmp_path: Path, busybox: Path) -> None:
    payload = tmp_path / "payload"
    payload.write_bytes(b"\x01\x02payload")
    module = tmp_path / "virtio.ko"
    module.write_bytes(b"\x7fELF fake module")
    xz_module = tmp_path / "virtio_ring.ko.xz"
    xz_module.write_bytes(lzma.compress(b"\x7fELF ring", format=lzma.FORMAT_XZ))
    out = tmp_path / "initrd.cpio.gz"
    spec = InitramfsSpec(busybox=busybox, payload=payload, modules=(xz_module, module))
    write_initramfs(spec, out)
    files = entries_of(out)

    init = files["init"]
    assert stat.S_IMODE(init.mode) == 0o755
    assert init.data.decode() == render_init(["virtio_ring.ko", "virtio.ko"])
    text = init.data.decode()
    assert text.index("virtio_ring.ko") < text.index("/virtio.ko")
    assert files["bin/busybox"].data == busybox.read_bytes()
    assert files["bin/sh"].data == b"/bin/busybox"
    assert "sbin/poweroff" in files or "bin/poweroff" in files
    assert stat.S_ISCHR(files["dev/console"].mode)
    for directory in ("proc", "sys", "dev", "lib/modules"):
        assert stat.S_ISDIR(files[directory].mode)
    assert files["payload"].data == payload.read_bytes()
    assert files["lib/modules/virtio_ring.ko"].data == b"\x7fELF ring"
    assert files["lib/modules/virtio.ko"].data == b"\x7fELF fake module"
    # Directories come before anything inside them: the kernel does not create parents.
    names = list(files)
    assert names.index("lib/modules") < names.index("lib/modules/virtio.ko")


def test_uncompressed(tmp_path: Path, busybox: Path) -> None:
    out = tmp_path / "initrd.cpio"
    write_initramfs(InitramfsSpec(busybox=busybox, compress=False), out)
    assert "init" in entries_of(out, compressed=False)


def test_cache_reuses_and_keys_on_content(tmp_path: Path, busybox: Path) -> None:
    payload = tmp_path / "payload"
    payload.write_bytes(b"one")
    spec = InitramfsSpec(busybox=busybox, payload=payload)
    first = build_initramfs(spec, tmp_path / "cache")
    mtime = first.stat().st_mtime_ns
    assert build_initramfs(spec, tmp_path / "cache") == first
    assert first.stat().st_mtime_ns == mtime
    payload.write_bytes(b"two")
    second = build_initramfs(spec, tmp_path / "cache")
    assert second != first
    assert (
        hashlib.sha256(entries_of(second)["payload"].data).digest()
        == hashlib.sha256(b"two").digest()
    )
    assert not list((tmp_path / "cache" / "initramfs").glob(".building-*"))


def test_same_inputs_same_bytes(tmp_path: Path, busybox: Path) -> None:
    spec = InitramfsSpec(busybox=busybox)
    write_initramfs(spec, tmp_path / "a")
    write_initramfs(spec, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_missing_input(tmp_path: Path, busybox: Path) -> None:
    with pytest.raises(InitramfsError, match="not found"):
        cache_key(InitramfsSpec(busybox=busybox, payload=tmp_path / "missing"))


def test_bad_module_names(tmp_path: Path, busybox: Path) -> None:
    weird = tmp_path / "bad name;rm.ko"
    weird.write_bytes(b"")
    with pytest.raises(InitramfsError, match="unsafe"):
        cache_key(InitramfsSpec(busybox=busybox, modules=(weird,)))
    zst = tmp_path / "mod.ko.zst"
    zst.write_bytes(b"")
    with pytest.raises(InitramfsError, match="unsupported"):
        write_initramfs(InitramfsSpec(busybox=busybox, modules=(zst,)), tmp_path / "out")


def test_find_module(tmp_path: Path) -> None:
    target = tmp_path / "kernel" / "drivers" / "virtio" / "virtio_mmio.ko.xz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert find_module(tmp_path, "virtio_mmio") == target
    with pytest.raises(InitramfsError):
        find_module(tmp_path, "nope")


def fake_module(root: Path, name: str, depends: str, compress: bool = False) -> Path:
    """A module file whose .modinfo strings carry `depends` (as modpost writes them)."""
    modinfo = f"license=GPL\0depends={depends}\0retpoline=Y\0name={name}\0".encode()
    data = b"\x7fELF\0\0" + modinfo + b"\0trailer"
    path = root / "kernel" / "drivers" / (f"{name}.ko.xz" if compress else f"{name}.ko")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(data, format=lzma.FORMAT_XZ) if compress else data)
    return path


def test_module_depends(tmp_path: Path) -> None:
    assert module_depends(fake_module(tmp_path, "nd_pmem", "libnvdimm,nd_btt")) == (
        "libnvdimm",
        "nd_btt",
    )
    assert module_depends(fake_module(tmp_path, "libnvdimm", "", compress=True)) == ()


def test_find_modules_puts_dependencies_first(tmp_path: Path) -> None:
    # The cloud kernel's NVDIMM stack (checked with modinfo -F depends).
    fake_module(tmp_path, "libnvdimm", "")
    fake_module(tmp_path, "nd_btt", "libnvdimm", compress=True)
    fake_module(tmp_path, "nd_pmem", "libnvdimm,nd_btt")
    fake_module(tmp_path, "nfit", "libnvdimm")
    names = [p.name for p in find_modules(tmp_path, ("nfit", "nd_pmem"))]
    assert names == ["libnvdimm.ko", "nfit.ko", "nd_btt.ko.xz", "nd_pmem.ko"]
    # Asking for a dependency too does not load it twice.
    assert len(find_modules(tmp_path, ("libnvdimm", "nd_pmem", "nd_btt"))) == 3


def test_find_modules_errors(tmp_path: Path) -> None:
    fake_module(tmp_path, "a", "b")
    fake_module(tmp_path, "b", "a")
    fake_module(tmp_path, "c", "missing")
    with pytest.raises(InitramfsError, match="cycle: a -> b -> a"):
        find_modules(tmp_path, ("a",))
    with pytest.raises(InitramfsError, match="missing not found"):
        find_modules(tmp_path, ("c",))


def test_render_init_fills_placeholders() -> None:
    text = render_init([])
    hold = text.index(HOLD_FLAG)
    assert hold < text.index("poweroff -f")
    assert "@" not in text.replace("$@", ""), "a placeholder was left unreplaced"
