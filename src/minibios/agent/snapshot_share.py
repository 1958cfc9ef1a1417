"""Shared host directories (virtiofs) for a VM restored from a saved state.

QEMU 7.2 cannot migrate vhost-user-fs devices, so the saved VM has none: it is saved
with the virtiofs modules loaded and (q35) free PCIe root ports, and after the restore
each share's virtiofsd is attached by QMP hot-plug (`chardev-add` + `device_add`); the
agent then mounts the tags (ROOT/MOUNT frames, which wait for a tag still being probed).

vhost-user needs guest RAM the daemon can map. A restore normally maps the saved RAM
file MAP_PRIVATE (share=off): QEMU 7.2 would still hand that file's fd to virtiofsd,
which maps it MAP_SHARED and so sees the file, not the guest's private copies of the
pages it changed (and could write into the saved state: QEMU 7.2 opens it read-write;
tried: virtiofsd panics at the first request, "Guest moved used index"). A restore with
shares therefore runs on a memfd filled from the RAM file (its data extents only) and
maps that share=on: the saved file is only read, and each such VM owns its RAM copy.
"""

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minibios.agent.snapshot import SnapshotError, ram_args

# Free hot-plug slots a q35 saved state carries (one per virtiofs device: root + shares).
Q35_HOTPLUG_PORTS = 4
HOTPLUG_PORT_ID = "mbhp"
FS_DEVICE_ID = "mbfsdev"
_COPY_CHUNK = 1 << 30


def hotplug_blocker(machine: str, devices: int) -> str | None:
    """Why a run with `devices` virtiofs devices cannot restore a saved state, or None."""
    if machine == "microvm":
        return "microvm has no hot-plug (its virtio-mmio devices are fixed when QEMU starts)"
    if machine == "q35" and devices > Q35_HOTPLUG_PORTS:
        return f"q35 saved states have {Q35_HOTPLUG_PORTS} hot-plug ports, {devices} needed"
    return None


def hotplug_slot_args(machine: str) -> list[str]:
    """What the saved configuration adds so devices can be plugged in after a restore:
    q35 hot-plugs only into (PCIe root) ports present at start; pc's bus 0 takes them."""
    if machine != "q35":
        return []
    args: list[str] = []
    for index in range(Q35_HOTPLUG_PORTS):
        args += ["-device", f"pcie-root-port,id={HOTPLUG_PORT_ID}{index},chassis={index + 1}"]
    return args


@dataclass(frozen=True)
class FsDevice:
    """One vhost-user-fs device to attach: its virtiofsd's socket and the tag."""

    socket_path: Path
    tag: str


def hotplug_fs(qmp: Any, machine: str, devices: list[FsDevice]) -> None:
    """Attach each device to the running (restored) VM: a chardev to its virtiofsd,
    then the vhost-user-fs-pci device on it."""
    for index, device in enumerate(devices):
        chardev = f"{FS_DEVICE_ID}-chr{index}"
        options: dict[str, object] = {
            "driver": "vhost-user-fs-pci",
            "id": f"{FS_DEVICE_ID}{index}",
            "chardev": chardev,
            "tag": device.tag,
        }
        if machine == "q35":
            options["bus"] = f"{HOTPLUG_PORT_ID}{index}"
        try:
            qmp.cmd(
                "chardev-add",
                id=chardev,
                backend={
                    "type": "socket",
                    "data": {
                        "addr": {"type": "unix", "data": {"path": str(device.socket_path)}},
                        "server": False,
                    },
                },
            )
            qmp.cmd("device_add", **options)
        except Exception as exc:  # QMP errors and a QEMU gone mid-command
            raise SnapshotError(f"hot-plugging virtiofs {device.tag} failed: {exc}") from exc


class RamCopy:
    """A memfd holding a copy of a saved RAM file, for a restore that maps RAM share=on.

    QEMU opens it by its /proc path while this process holds it; close() once QEMU has
    started (QEMU keeps its own reference, so nothing is left behind either way).
    """

    def __init__(self, ram: Path, size: int) -> None:
        self.fd = os.memfd_create("minibios-ram")
        try:
            os.ftruncate(self.fd, size)
            _copy_data(ram, self.fd)
        except OSError as exc:
            self.close()
            raise SnapshotError(f"cannot copy the saved RAM {ram}: {exc}") from exc

    @property
    def path(self) -> str:
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def ram_args(self, size: int) -> list[str]:
        """The machine's RAM on this copy, shared (with virtiofsd)."""
        return ram_args(size, Path(self.path), share=True)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _copy_data(ram: Path, out: int) -> None:
    """Copy the data extents of the (sparse) RAM file to `out` at the same offsets:
    holes stay holes, so only the pages the saved guest used are copied."""
    fd = os.open(ram, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data past pos
                    return
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            os.lseek(out, start, os.SEEK_SET)
            offset = start
            while offset < end:
                sent = os.sendfile(out, fd, offset, min(end - offset, _COPY_CHUNK))
                if sent <= 0:
                    raise OSError(f"short copy at {offset}")
                offset += sent
            pos = end
    finally:
        os.close(fd)
