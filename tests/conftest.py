"""Shared fixtures: the firmware under test, the kernel, and cached initramfs images."""

import hashlib
import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm_support import PAYLOAD_SEED, PAYLOAD_SIZE, BootImages

from minibios.firmware.rom import checkout_root, run_make
from minibios.images.assets import AssetError, KernelAssets, cache_dir, find_busybox, find_kernel
from minibios.images.initramfs import InitramfsSpec, build_initramfs


def pytest_configure(config: pytest.Config) -> None:
    """Build the ROM and the host library once, before any xdist worker starts.

    Workers (and the CLI the tests run) still call make, which then has nothing
    to do; run_make's lock keeps any that do from racing each other.
    """
    if hasattr(config, "workerinput") or os.environ.get("MINIBIOS_HOST_LIB"):
        return  # a worker, or the sanitized rerun: the controller has built everything
    root = checkout_root()
    if root is not None:
        # A failure here shows again, with its output, in the tests that need the build.
        run_make(root / "firmware")
        run_make(root / "firmware", "-s", "host")


# Fixtures that need the downloaded kernel or busybox: a test using one is a boot test.
NEEDS_DOWNLOADS = {"kernel_assets", "generic_kernel", "boot_images"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests (-m "not boot") must run on a machine without QEMU or the kernel."""
    unmarked = [
        item.nodeid
        for item in items
        if NEEDS_DOWNLOADS & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("boot") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"mark these @pytest.mark.boot (they need downloads): {unmarked}")


# The one switch for every boot test: "minibios" (firmware/build/minibios.rom),
# or "seabios" / "qboot" to compare against a reference firmware.
FIRMWARE_UNDER_TEST = "minibios"


@pytest.fixture(scope="session")
def firmware() -> str:
    return FIRMWARE_UNDER_TEST


@pytest.fixture(scope="session")
def kernel_assets() -> KernelAssets:
    return find_kernel()


@pytest.fixture(scope="session")
def generic_kernel() -> KernelAssets:
    """Debian's generic kernel: unlike the cloud one it reads MP tables (acpi=off)."""
    try:
        return find_kernel(flavour="generic")
    except AssetError as exc:
        pytest.skip(f"the generic kernel is not in the cache ({exc})")


@pytest.fixture(scope="session")
def boot_images(
    kernel_assets: KernelAssets, tmp_path_factory: pytest.TempPathFactory
) -> BootImages:
    """Initramfs images, built once and then reused from the cache (keyed by content).

    The payload comes from a fixed seed, so every xdist worker derives the same
    bytes and therefore the same cache entry.
    """
    payload = tmp_path_factory.mktemp("payload") / "payload.bin"
    payload.write_bytes(random.Random(PAYLOAD_SEED).randbytes(PAYLOAD_SIZE))
    busybox = find_busybox()
    cache = cache_dir()
    return BootImages(
        kernel=kernel_assets,
        plain_initrd=build_initramfs(InitramfsSpec(busybox=busybox), cache),
        payload_initrd=build_initramfs(InitramfsSpec(busybox=busybox, payload=payload), cache),
        payload_sha256=hashlib.sha256(payload.read_bytes()).hexdigest(),
    )


@pytest.fixture
def marker() -> str:
    """A unique string to put on QEMU's command line (as -name) and find it by."""
    return f"minibios-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: QMP unix sockets must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="mbt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
