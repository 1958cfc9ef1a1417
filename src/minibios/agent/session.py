"""The host side of `minibios exec`: a VM whose /init is the agent, and commands run in it.

    with AgentMachine(ExecSettings(rootfs="initramfs")) as vm:
        first = vm.run(["uname", "-r"])
        second = vm.run(["cat"], input=b"hello")

`exec_command()` (exported as `minibios.exec`) is one VM for one command.
"""

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from minibios.agent.build import (
    TRANSPORT_MODULE,
    AgentImageSpec,
    agent_modules,
    build_agent,
    build_agent_image,
)
from minibios.agent.protocol import (
    PORT_NAME,
    PROTOCOL_VERSION,
    SEED_BYTES,
    ExitStatus,
    Frame,
    FrameParser,
    FrameType,
    ProtocolError,
    Ready,
    RunRequest,
    decode_exit,
    decode_ready,
    encode_data,
    encode_frame,
    encode_mount,
    encode_root,
    encode_seed,
    encode_signal,
)
from minibios.agent.settings import (
    ROOTFS_CHOICES,
    SNAPSHOT_MODES,
    AgentNotReady,
    CommandTimeout,
    ExecError,
    ExecInputError,
    ExecResult,
    ExecSettings,
    ShareSpec,
    Timings,
    VmDied,
)
from minibios.agent.snapshot import Entry as SnapshotEntry
from minibios.agent.snapshot import (
    SnapshotCache,
    SnapshotError,
    cache_key,
    load,
    ram_args,
    resume,
    save,
    snapshot_dir,
    write_meta,
)
from minibios.agent.snapshot_share import (
    FsDevice,
    RamCopy,
    hotplug_blocker,
    hotplug_fs,
    hotplug_slot_args,
)
from minibios.agent.virtiofsd import Share, Virtiofsd, VirtiofsdError, virtiofs_blocker
from minibios.errors import MinibiosError
from minibios.firmware.choice import resolve_firmware
from minibios.images.assets import cache_dir, find_busybox, kernel_and_modules
from minibios.images.entry import Entry, EntryChoice, choose_entry
from minibios.images.file_memo import FileMemo
from minibios.sizes import parse_memory
from minibios.vm.accel import choose_accel
from minibios.vm.machine import Machine, MachineError, QemuStartError
from minibios.vm.preflight import preflight
from minibios.vm.runtime_dir import make_runtime_dir
from minibios.vm.spec import VmSpec

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_APPEND = "console=ttyS0 quiet panic=-1"
SERIAL_DEVICE = {"pc": "virtio-serial-pci", "q35": "virtio-serial-pci"}
FS_DEVICE = {"pc": "vhost-user-fs-pci", "q35": "vhost-user-fs-pci"}
MMIO_SERIAL_DEVICE = "virtio-serial-device"
MMIO_FS_DEVICE = "vhost-user-fs-device"
ROOT_TAG = "minibios-root"
# The kernel could not run the agent, or died: no point waiting for READY.
AGENT_STARTED_RE = re.compile(r"minibios-agent: started")
GUEST_FAILED_RE = re.compile(r"Failed to execute /init|Kernel panic|minibios-agent: fatal")
_RECV_SIZE = 1 << 18
_SEND_HIGH_WATER = 1 << 18
_STDIN_READ = 1 << 16
# After a timeout the command is killed; how long the agent may take to say so.
KILL_GRACE = 10.0
REQUEST_TIMEOUT = 30.0
FLUSH_TIMEOUT = 60.0
# A restored guest loads its state and its agent answers PING within ~0.1 s; past this
# (or the user's --ready-timeout, if shorter) the state is taken as bad: cold boot.
RESTORE_READY_TIMEOUT = 15.0

Sink = Callable[[bytes], None]


SEEDING = "seeding the guest's clock and RNG"


def _seed_frame() -> bytes:
    return encode_seed(time.time_ns(), os.urandom(SEED_BYTES))


def restore_ready_timeout(ready_timeout: float) -> float:
    """How long a restore may take, loading the state to the agent's answer."""
    return min(ready_timeout, RESTORE_READY_TIMEOUT)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _default_env(extra: Mapping[str, str] | None) -> tuple[str, ...]:
    env = {"PATH": DEFAULT_PATH, "HOME": "/root", "TERM": "dumb"}
    env.update(extra or {})
    return tuple(f"{key}={value}" for key, value in env.items())


class AgentMachine:
    """A VM booted with the agent as /init; `run()` as often as you like, then close()."""

    def __init__(self, settings: ExecSettings) -> None:
        self.settings = settings
        self.notes: list[str] = []
        self.timings = Timings()
        self.rootfs = "initramfs"
        self.entry: EntryChoice | None = None
        self._dir: Path | None = None
        self._machine: Machine | None = None
        self._daemons: list[Virtiofsd] = []
        self._sock: socket.socket | None = None
        self._parser = FrameParser()
        self._frames: list[Frame] = []
        self._broken = False
        self.ready: Ready | None = None
        self.snapshot_state = "cold boot"  # or "restored", "off", "cold boot: why"
        # A saved state without virtiofs devices: they are hot-plugged after the restore.
        self._hotplug_fs = False
        # prestart(): the saved state loaded, paused; finish_start() lets it run
        self._incoming: SnapshotEntry | None = None
        self._warmed = False
        self.pooled = False

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "AgentMachine":
        if self._dir is None and self._sock is None:  # a pool hands out started ones
            self.start()
        return self

    @classmethod
    def attach(cls, settings: ExecSettings, channel: socket.socket) -> "AgentMachine":
        """An agent reached through `channel` (a `minibios pool` server relaying to a VM
        it owns, seeded): run() works as usual; close() only closes the channel."""
        vm = cls(settings)
        channel.setblocking(False)
        vm._sock = channel
        vm.snapshot_state = "pool"
        vm.pooled = True
        return vm

    def channel(self) -> socket.socket:
        """The connected agent channel, for a relay (the pool server); no frame pending."""
        if self._sock is None or self._frames or self._broken:
            raise ExecError("the agent channel is not free to hand over")
        return self._sock

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            raise ExecError("the VM is not running")
        return self._machine

    @property
    def runtime_dir(self) -> Path | None:
        return self._dir

    @property
    def virtiofsd_pids(self) -> list[int]:
        """The virtiofsd processes serving this VM (the host root first, then --share)."""
        return [pid for d in self._daemons if (pid := d.pid) is not None]

    def _choose_rootfs(self) -> bool:
        """Resolve rootfs; True if virtiofs is needed at all."""
        wanted = self.settings.rootfs
        if self.settings.machine not in TRANSPORT_MODULE:
            choices = ", ".join(TRANSPORT_MODULE)
            raise ExecInputError(f"unknown machine type {self.settings.machine!r} ({choices})")
        if wanted not in ROOTFS_CHOICES:
            raise ExecInputError(f"unknown --rootfs {wanted!r} (host or initramfs)")
        if self.settings.snapshot not in SNAPSHOT_MODES:
            choices = ", ".join(SNAPSHOT_MODES)
            raise ExecInputError(f"unknown --snapshot {self.settings.snapshot!r} ({choices})")
        blocker = virtiofs_blocker()
        if self.settings.shares and blocker:
            raise ExecInputError(f"--share needs virtiofs, which cannot work here: {blocker}")
        if wanted == "initramfs":
            self.rootfs = "initramfs"
        elif blocker:
            self.notes.append(f"--rootfs host needs virtiofs ({blocker}); using the initramfs")
            self.rootfs = "initramfs"
        else:
            self.rootfs = "host"
        return self.rootfs == "host" or bool(self.settings.shares)

    def start(self) -> None:
        if self._dir is not None:
            raise ExecError("an AgentMachine can only be started once")
        began = time.monotonic()
        self._dir = make_runtime_dir()
        try:
            self._start(began)
        except BaseException:
            self.close()
            raise

    def prestart(self, warm: Sequence[str] = ()) -> None:
        """Start QEMU for the saved state of these settings at -incoming defer and load
        the state, paused (no guest instruction runs yet); `finish_start()` resumes it.
        With `warm`, a command: resume now and run it once, so that TCG has translated
        what a command's fork, exec and exit take (a restored guest starts with an empty
        translation cache); the guest then idles unseeded until finish_start().
        For a pool: SnapshotError when no saved state matches, ExecInputError when these
        settings cannot use one."""
        if self.settings.snapshot != "auto":
            raise ExecInputError("only --snapshot auto can start from a saved state ahead")
        if self._dir is not None:
            raise ExecError("an AgentMachine can only be started once")
        self._dir = make_runtime_dir()
        try:
            self._start(time.monotonic(), prestart=True)
            if warm:
                self._warm(warm)
        except BaseException:
            self.close()
            raise

    def _warm(self, argv: Sequence[str]) -> None:
        assert self._machine is not None
        began = time.monotonic()
        resume(self._machine)
        self.ready = self.ping(restore_ready_timeout(self.settings.ready_timeout))
        result = self.run(argv, timeout=max(1.0, REQUEST_TIMEOUT - (time.monotonic() - began)))
        if result.returncode != 0:
            raise ExecError(f"the warm-up command {argv[0]!r} exited {result.returncode}")
        self.timings = Timings(prepare=self.timings.prepare)
        self._warmed = True

    def _restore_deadline(self, since: float) -> float:
        """When a restore begun at `since` must have its agent's answer."""
        return since + restore_ready_timeout(self.settings.ready_timeout)

    def finish_start(self) -> None:
        """After prestart(): let the guest run, PING and SEED: the VM is ready for run()."""
        if self._incoming is None or self._machine is None:
            raise ExecError("finish_start() needs a prestart()ed VM")
        entry = self._incoming
        self._incoming = None
        began = time.monotonic()
        try:
            if self._warmed:  # running already: only the SEED of this moment
                deadline = self._restore_deadline(began)
                self._await_done(SEEDING, deadline, _seed_frame())
                self.timings.agent_ready = time.monotonic() - began
            else:
                resume(self._machine)
                self._greet(began)
        except BaseException:
            self.close()
            raise
        entry.touch()
        self.timings.qemu_start = 0.0  # paid ahead of time
        self.snapshot_state = "restored"
        self.pooled = True

    def _start(self, began: float, prestart: bool = False) -> None:
        assert self._dir is not None
        settings = self.settings
        use_fs = self._choose_rootfs()
        cache = cache_dir()
        kernel_assets = kernel_and_modules(settings.kernel, cache)  # its own modules
        memory = settings.memory
        spec = VmSpec(
            machine=settings.machine,
            cpus=settings.cpus,
            memory=parse_memory(memory) if isinstance(memory, str) else memory,
            accel=choose_accel(settings.accel),
            firmware=resolve_firmware(settings.firmware, settings.machine),
            append=BASE_APPEND,
            microvm_acpi=True,
            qemu=settings.qemu,
        )
        try:
            mode = Entry(settings.entry)
        except ValueError:
            raise ExecInputError(f"unknown entry {settings.entry!r} (auto, pvh, bzimage)") from None
        kernel = settings.kernel or kernel_assets.vmlinuz
        self.entry = choose_entry(kernel, cache, mode, None, spec.pvh_blocker())
        memo = FileMemo.in_cache(cache)
        modules = agent_modules(kernel_assets.modules_dir, settings.machine, use_fs, memo)
        image = build_agent_image(
            AgentImageSpec(build_agent(cache), find_busybox(), modules), cache
        )
        shares = self._start_daemons()
        cold_args = tuple(self._qemu_args(use_fs))
        self.timings.prepare = time.monotonic() - began
        spec = preflight(replace(spec, kernel=self.entry.kernel, initrd=image))
        cold = replace(spec, extra_args=cold_args)
        if prestart:
            self._prestart(cold, cache, use_fs)
            return
        if self._snapshot_blocker(use_fs) is not None:
            self._boot(cold)
        elif use_fs:
            # Saved without the virtiofs devices (nor any per-run path): one state serves
            # every --share and --rootfs host run; _restore plugs this run's devices in.
            self._hotplug_fs = True
            saved = self._qemu_args(False) + hotplug_slot_args(settings.machine)
            self._start_with_snapshot(replace(spec, extra_args=tuple(saved)), cache, cold)
        else:
            self._start_with_snapshot(cold, cache)
        # Every guest, restored ones above all: the host's clock, fresh credited entropy
        # (a restore sent it with its PING).
        if self.snapshot_state != "restored":
            self._request(_seed_frame(), SEEDING)
        if self.rootfs == "host":
            self._request(encode_root(ROOT_TAG), "mounting the host's root")
        for share_spec, daemon in shares:
            what = f"mounting {share_spec.host} at {share_spec.guest}"
            self._request(
                encode_mount(daemon.share.tag, share_spec.guest, share_spec.readonly), what
            )

    def _boot(self, spec: VmSpec) -> None:
        """A cold boot to the agent's READY."""
        self._machine = Machine(spec)
        try:
            self._machine.start()
        except QemuStartError as exc:
            raise ExecError(f"{exc}{self._diagnosis()}") from exc
        qmp_ready = time.monotonic()
        self.timings.qemu_start = qmp_ready - (self._machine.started_at or qmp_ready)
        self._connect()
        self._await_ready(qmp_ready)

    # -- saved states --------------------------------------------------------

    def _snapshot_blocker(self, use_fs: bool) -> str | None:
        """Why this run cold-boots without a saved state, if it does."""
        mode = self.settings.snapshot
        if mode == "off":
            self.snapshot_state = "off"
            return "off"
        if use_fs:
            reason = hotplug_blocker(self.settings.machine, len(self._daemons))
            if reason is not None:
                reason = f"virtiofs needs hot-plug after a restore: {reason}"
                self.snapshot_state = f"cold boot: {reason}"
                if self.settings.rootfs == "host" or self.settings.shares or mode == "refresh":
                    self.notes.append(f"{reason}; cold boot")
                return reason
        return None

    def _start_with_snapshot(self, spec: VmSpec, cache: Path, cold: VmSpec | None = None) -> None:
        """Restore the saved state for `spec`; without one, boot, save it, then restore it.
        A cold boot (no state, or a bad one) boots `cold` (default: `spec`)."""
        cold = cold or spec
        assert self._dir is not None
        snapshots = SnapshotCache(self.settings.snapshot_dir or snapshot_dir(cache))
        try:
            key, parts = cache_key(spec, self._dir, FileMemo.in_cache(cache))
        except SnapshotError as exc:  # e.g. no QEMU at all: the boot says it better
            self.snapshot_state = f"cold boot: {exc}"
            self._boot(cold)
            return
        tried: object = None
        if self.settings.snapshot == "auto":
            entry = snapshots.entry(key)
            if entry is not None:
                tried = entry.meta.get("created")
                if self._try_restore(spec, entry, snapshots):
                    return
        with snapshots.lock(key):  # concurrent misses: one builds, the others restore
            entry = snapshots.entry(key)
            # Another exec may just have built it.
            built = entry is not None and entry.meta.get("created") != tried
            auto = self.settings.snapshot == "auto"
            if built and auto and entry is not None and self._try_restore(spec, entry, snapshots):
                return
            saved_at = time.monotonic()
            try:
                entry = self._build_snapshot(spec, snapshots, key, parts)
            except (ExecError, MachineError, OSError) as exc:  # e.g. a full disk: no state
                self.notes.append(f"saving a boot state failed ({_first_line(exc)}); cold boot")
                self.snapshot_state = "cold boot: saving failed"
                self._boot(cold)
                return
            self.timings.save = time.monotonic() - saved_at
        if not self._try_restore(spec, entry, snapshots):
            self._boot(cold)
            self.snapshot_state = "cold boot: the new saved state did not restore"

    def _build_snapshot(
        self, spec: VmSpec, snapshots: SnapshotCache, key: str, parts: dict[str, object]
    ) -> SnapshotEntry:
        temp = snapshots.new_temp()
        try:
            ram = ram_args(spec.memory, temp / "ram", share=True)
            self._boot(replace(spec, extra_args=spec.extra_args + tuple(ram)))
            # Saved with its CRNG initialized (by these bytes, never handed out): the
            # kernel's one-time work of that stays out of every restore, whose own SEED
            # then only reseeds it.
            self._request(_seed_frame(), SEEDING)
            cold = Timings(**vars(self.timings))
            save(self.machine, temp / "state")
            self._reset_vm()
            write_meta(temp, key, parts)
            entry = snapshots.commit(temp, key)
        except BaseException:
            self._reset_vm()
            shutil.rmtree(temp, ignore_errors=True)
            raise
        self.timings = cold
        return entry

    def _try_restore(self, spec: VmSpec, entry: SnapshotEntry, snapshots: SnapshotCache) -> bool:
        """Restore `entry`; if that fails, say why in one line and drop the entry."""
        try:
            entry.check()
            self._restore(spec, entry)
        except (ExecError, MachineError) as exc:
            self._reset_vm()
            if self._hotplug_fs:  # the cold boot needs daemons no QEMU has talked to
                for daemon in self._daemons:
                    daemon.restart()
            self.notes.append(
                f"saved state {entry.path.name} unusable ({_first_line(exc)}); "
                "cold boot, rebuilding it"
            )
            snapshots.remove(entry.path.name)
            return False
        entry.touch()
        self.snapshot_state = "restored"
        return True

    def _prestart(self, spec: VmSpec, cache: Path, use_fs: bool) -> None:
        assert self._dir is not None
        if use_fs:  # its virtiofs devices would be plugged at take(): not built yet
            raise ExecInputError("a pool serves runs without --share or --rootfs host")
        if self._snapshot_blocker(use_fs) is not None:
            raise ExecInputError(f"cannot start from a saved state: {self.snapshot_state}")
        snapshots = SnapshotCache(self.settings.snapshot_dir or snapshot_dir(cache))
        entry = snapshots.entry(cache_key(spec, self._dir, FileMemo.in_cache(cache))[0])
        if entry is None:
            raise SnapshotError("no saved state for these settings")
        entry.check()
        since = self._launch_incoming(spec, entry)
        deadline = self._restore_deadline(since)
        load(self._machine, entry.state, max(0.0, deadline - time.monotonic()), run=False)
        self._incoming = entry

    def _restore(self, spec: VmSpec, entry: SnapshotEntry) -> None:
        qmp_ready = self._launch_incoming(spec, entry)
        self._load(entry.state, qmp_ready)

    def _launch_incoming(self, spec: VmSpec, entry: SnapshotEntry) -> float:
        """QEMU on the saved RAM, waiting at -incoming defer; when QMP answered. The RAM
        is a private mapping of the file, or a shared copy when virtiofs will be plugged."""
        copying = time.monotonic()
        copy = RamCopy(entry.ram, spec.memory) if self._hotplug_fs else None
        copied = time.monotonic() - copying
        try:
            ram = copy.ram_args(spec.memory) if copy else ram_args(spec.memory, entry.ram, False)
            extra = (*spec.extra_args, *ram, "-incoming", "defer")
            self._machine = Machine(replace(spec, extra_args=extra))
            try:
                self._machine.start()
            except QemuStartError as exc:
                raise SnapshotError(str(exc)) from exc
        finally:
            if copy is not None:  # QEMU has mapped it (or is gone)
                copy.close()
        qmp_ready = time.monotonic()
        # The RAM copy (shares only) is part of starting this QEMU.
        self.timings.qemu_start = qmp_ready - (self._machine.started_at or qmp_ready) + copied
        self._connect()  # before the load: the guest then sees its host still connected
        return qmp_ready

    def _load(self, stream: Path, since: float) -> None:
        """Load the state (plugging this run's virtiofs devices in before it runs), let
        the guest run, and hear from its agent."""
        assert self._machine is not None
        deadline = self._restore_deadline(since)
        plug = self._plug_fs if self._hotplug_fs else None
        load(self._machine, stream, max(0.0, deadline - time.monotonic()), before_cont=plug)
        self._greet(since)

    def _greet(self, since: float) -> None:
        """The agent's READY and the SEED's DONE, within the restore's deadline."""
        deadline = self._restore_deadline(since)
        # PING and SEED in one go: one round trip less; both answered, or the state is bad.
        self.ready = self.ping(max(0.0, deadline - time.monotonic()), also=_seed_frame())
        self._await_done(SEEDING, deadline)
        self.timings.firmware = self.timings.kernel = 0.0
        self.timings.agent_ready = time.monotonic() - since

    def _plug_fs(self) -> None:
        """Attach this run's virtiofs devices to the restored VM, still paused: the guest
        handles the hot-plug as soon as it runs, while the host pings and seeds it."""
        devices = [FsDevice(d.socket_path, d.share.tag) for d in self._daemons]
        hotplug_fs(self.machine.qmp, self.settings.machine, devices)

    def _reset_vm(self) -> None:
        """Stop this VM (not the virtiofsds, not the runtime dir) to start another."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._machine is not None:
            self._machine.close()
            self._machine = None
        self._parser = FrameParser()
        self._frames = []
        self.ready = None

    def _start_daemons(self) -> list[tuple[ShareSpec, Virtiofsd]]:
        assert self._dir is not None
        wanted: list[tuple[ShareSpec, Share]] = []
        if self.rootfs == "host":
            root = ShareSpec(Path("/"), "/", readonly=True)
            wanted.append((root, Share(Path("/"), ROOT_TAG, readonly=True)))
        for index, spec in enumerate(self.settings.shares):
            wanted.append((spec, Share(spec.host, f"minibios-share{index}", spec.readonly)))
        started = []
        for index, (spec, share) in enumerate(wanted):
            daemon = Virtiofsd(share, self._dir / f"fs{index}.sock", self._dir / f"fs{index}.log")
            self._daemons.append(daemon)
            daemon.start()
            started.append((spec, daemon))
        return [(spec, d) for spec, d in started if d.share.tag != ROOT_TAG]

    def _qemu_args(self, use_fs: bool) -> list[str]:
        """The agent's channel and the shares' devices: what the exec VM adds to QEMU's
        (use_fs False: without the shares' memory backend and devices, as a saved state)."""
        assert self._dir is not None
        mmio = self.settings.machine == "microvm"
        serial = MMIO_SERIAL_DEVICE if mmio else SERIAL_DEVICE[self.settings.machine]
        args = [
            "-chardev", f"socket,id=agent,path={self._dir / 'agent.sock'},server=on,wait=off",
            "-device", f"{serial},id=agentbus",
            "-device", f"virtserialport,bus=agentbus.0,chardev=agent,name={PORT_NAME}",
        ]  # fmt: skip
        if mmio:
            # microvm's virtio-mmio is legacy (version 1) by default; vhost-user-fs
            # needs a modern (VIRTIO_F_VERSION_1) transport.
            args += ["-global", "virtio-mmio.force-legacy=false"]
        if use_fs:
            memory = self.settings.memory
            size = parse_memory(memory) if isinstance(memory, str) else memory
            args += ["-object", f"memory-backend-memfd,id=mbmem,size={size},share=on"]
            args += ["-machine", "memory-backend=mbmem"]
        fs_device = MMIO_FS_DEVICE if mmio else FS_DEVICE.get(self.settings.machine, "")
        for index, daemon in enumerate(self._daemons if use_fs else []):
            args += ["-chardev", f"socket,id=fs{index},path={daemon.socket_path}"]
            args += ["-device", f"{fs_device},chardev=fs{index},tag={daemon.share.tag}"]
        return args

    def _connect(self) -> None:
        assert self._dir is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self._dir / "agent.sock"))
        except OSError as exc:
            sock.close()
            raise ExecError(f"cannot connect to the agent's channel: {exc}") from exc
        sock.setblocking(False)
        self._sock = sock

    def close(self) -> None:
        """Stop QEMU and every virtiofsd, remove the temp dir. Idempotent."""
        self._incoming = None
        try:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._machine is not None:
                self._machine.close()
        finally:
            for daemon in self._daemons:
                daemon.stop()
            self._daemons.clear()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    # -- frames --------------------------------------------------------------

    def _diagnosis(self) -> str:
        details = []
        for daemon in self._daemons:
            with contextlib.suppress(MinibiosError):
                daemon.check()
                continue
            details.append(f"virtiofsd for {daemon.share.source}: {daemon.log().strip()[-300:]}")
        if self._machine is not None:
            with contextlib.suppress(MachineError):
                stderr = self._machine.stderr.strip()
                if stderr:
                    details.append(f"QEMU: {stderr[-500:]}")
            console = self._machine.console
            failure = GUEST_FAILED_RE.search(console)
            if failure is not None:
                line_end = console.find("\n", failure.start())
                details.append(f"guest: {console[failure.start() : line_end].strip()}")
            tail = "\n".join(console.rstrip().splitlines()[-10:])
            if tail:
                details.append(f"console tail:\n{tail}")
        return ("; " + "; ".join(details)) if details else ""

    def _pump(self, outgoing: bytearray, timeout: float, stdin_fd: int | None = None) -> bool:
        """One round of I/O: send what we can, parse what came. False if stdin hit EOF."""
        sock = self._sock
        if sock is None:
            raise VmDied("the VM is not running")
        for daemon in self._daemons:  # a dead virtiofsd would hang the guest's file access
            try:
                daemon.check()
            except VirtiofsdError as exc:
                raise VmDied(str(exc)) from exc
        readers: list[int] = [sock.fileno()]
        if stdin_fd is not None and len(outgoing) < _SEND_HIGH_WATER:
            readers.append(stdin_fd)
        writers = [sock.fileno()] if outgoing else []
        readable, writable, _ = select.select(readers, writers, [], timeout)
        stdin_open = True
        if writable:
            try:
                sent = sock.send(outgoing[:_SEND_HIGH_WATER])
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise VmDied(f"the VM went away: {exc}{self._diagnosis()}") from exc
            del outgoing[:sent]
        if stdin_fd is not None and stdin_fd in readable:
            data = os.read(stdin_fd, _STDIN_READ)
            outgoing += b"".join(encode_data(FrameType.STDIN, data)) if data else b""
            if not data:
                outgoing += encode_frame(FrameType.STDIN)
                stdin_open = False
        if sock.fileno() in readable:
            try:
                data = sock.recv(_RECV_SIZE)
            except BlockingIOError:
                data = None
            except OSError as exc:
                raise VmDied(f"the VM went away: {exc}{self._diagnosis()}") from exc
            if data == b"":
                self._wait_qemu_gone()
                raise VmDied(f"QEMU exited while the agent was needed{self._diagnosis()}")
            if data:
                try:
                    self._frames += self._parser.feed(data)
                except ProtocolError as exc:
                    raise ExecError(f"garbled agent channel: {exc}") from exc
        return stdin_open

    def _wait_qemu_gone(self) -> None:
        if self._machine is not None:
            with contextlib.suppress(Exception):
                self._machine.wait_exit(2.0)

    def _await_ready(self, since: float) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout
        outgoing = bytearray()
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentNotReady(
                    f"the guest agent was not ready within {self.settings.ready_timeout:g} s"
                    f"{self._diagnosis()}"
                )
            if self._machine is not None and GUEST_FAILED_RE.search(self._machine.console):
                raise AgentNotReady(f"the guest failed before its agent started{self._diagnosis()}")
            try:
                self._pump(outgoing, min(remaining, 0.5))
            except VmDied as exc:
                raise AgentNotReady(f"the guest never became ready: {exc}") from exc
        frame = self._frames.pop(0)
        now = time.monotonic()
        if frame.type is not FrameType.READY:
            raise ExecError(f"the agent spoke before it was ready: {frame.type.name}")
        try:
            self.ready = decode_ready(frame.payload)
        except ProtocolError as exc:
            raise ExecError(f"bad READY from the agent: {exc}") from exc
        if self.ready.version != PROTOCOL_VERSION:
            raise ExecError(f"agent protocol {self.ready.version}, want {PROTOCOL_VERSION}")
        # The agent's first console line dates /init on the host's clock; the
        # guest's own clock (its uptime then) splits the time before it between
        # "firmware+early kernel" and kernel. Under a loaded TCG host the guest clock may run
        # fast, so it is capped by what the host saw.
        started_at = self.machine.started_at or since
        init_at = now - (self.ready.ready_ns - self.ready.init_ns) / 1e9
        match = AGENT_STARTED_RE.search(self.machine.console)
        seen = self.machine.elapsed_at(match.start()) if match else None
        if seen is not None:
            init_at = started_at + seen
        boot = max(0.0, init_at - since)
        self.timings.kernel = min(boot, self.ready.init_ns / 1e9)
        self.timings.firmware = boot - self.timings.kernel
        self.timings.agent_ready = now - init_at

    def _request(self, frame: bytes, what: str) -> None:
        """Send a MOUNT/ROOT/SEED request and wait for DONE."""
        began = time.monotonic()
        self._await_done(what, began + REQUEST_TIMEOUT, frame)
        self.timings.agent_ready += time.monotonic() - began

    def _await_done(self, what: str, deadline: float, frame: bytes = b"") -> None:
        """Send `frame` (if any), then wait until `deadline` for the DONE of a request."""
        outgoing = bytearray(frame)
        while not self._frames:
            if time.monotonic() > deadline:
                raise ExecError(f"the agent did not answer {what} in time")
            self._pump(outgoing, 0.5)
        reply = self._frames.pop(0)
        if reply.type is FrameType.ERROR:
            raise ExecError(f"{what}: {reply.payload.decode(errors='replace')}")
        if reply.type is not FrameType.DONE:
            raise ExecError(f"{what}: unexpected {reply.type.name} from the agent")

    def ping(self, timeout: float = REQUEST_TIMEOUT, also: bytes = b"") -> Ready:
        """Ask the agent whether it is alive (between commands); its READY answer. `also`:
        requests sent right behind the PING, whose answers are left to read."""
        if self._broken:
            raise ExecError("an earlier run failed half-way; this VM can only be closed")
        outgoing = bytearray(encode_frame(FrameType.PING) + also)
        deadline = time.monotonic() + timeout
        while not self._frames or outgoing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ExecError(f"the agent did not answer a ping within {timeout:g} s")
            self._pump(outgoing, min(remaining, 0.5))
        reply = self._frames.pop(0)
        if reply.type is not FrameType.READY:
            raise ExecError(f"the agent answered a ping with {reply.type.name}")
        try:
            return decode_ready(reply.payload)
        except ProtocolError as exc:
            raise ExecError(f"bad READY from the agent: {exc}") from exc

    # -- commands ------------------------------------------------------------

    def default_workdir(self) -> str:
        return os.getcwd() if self.rootfs == "host" else "/"

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        stdin_fd: int | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> ExecResult:
        """Run `argv` in the guest; stdout/stderr are collected unless a sink takes them.

        `input` (bytes) or `stdin_fd` (read to its end) feed the command's stdin;
        with neither it gets end-of-file at once. Past `timeout` seconds the
        command is killed and CommandTimeout raised; the VM stays usable.
        """
        if input is not None and stdin_fd is not None:
            raise ValueError("give input or stdin_fd, not both")
        if self._broken:
            raise ExecError("an earlier run failed half-way; this VM can only be closed")
        self._broken = True  # until the command's EXIT is in: a failure leaves frames behind
        request = RunRequest(tuple(argv), _default_env(env), cwd or self.default_workdir())
        try:
            outgoing = bytearray(request.encode())
        except ProtocolError as exc:
            raise ExecInputError(str(exc)) from exc
        if stdin_fd is None:
            outgoing += b"".join(encode_data(FrameType.STDIN, input or b""))
            outgoing += encode_frame(FrameType.STDIN)
        out: list[bytes] = []
        err: list[bytes] = []
        began = time.monotonic()
        deadline = began + timeout if timeout is not None else None
        killed_at: float | None = None
        status: ExitStatus | None = None
        reading_stdin = stdin_fd
        while status is None:
            now = time.monotonic()
            if deadline is not None and killed_at is None and now >= deadline:
                outgoing += encode_signal(signal.SIGKILL)
                killed_at, reading_stdin = now, None
            if killed_at is not None and now - killed_at > KILL_GRACE:
                raise ExecError(f"the agent did not stop the command{self._diagnosis()}")
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))
            if not self._pump(outgoing, wait if killed_at is None else 0.5, reading_stdin):
                reading_stdin = None
            while self._frames and status is None:
                frame = self._frames.pop(0)
                if frame.type is FrameType.STDOUT:
                    (on_stdout or out.append)(frame.payload)
                elif frame.type is FrameType.STDERR:
                    (on_stderr or err.append)(frame.payload)
                elif frame.type is FrameType.EXIT:
                    status = self._decode_exit(frame.payload)
                elif frame.type is FrameType.ERROR:  # no command ran: the channel is in step
                    self._flush(outgoing)
                    self._broken = False
                    raise ExecError(
                        f"the agent could not run {argv[0]!r}: "
                        f"{frame.payload.decode(errors='replace')}"
                    )
                else:
                    raise ExecError(f"unexpected {frame.type.name} from the agent")
        self._flush(outgoing)
        self._broken = False
        self.timings.command = time.monotonic() - began
        stdout, stderr = b"".join(out), b"".join(err)
        if killed_at is not None:
            raise CommandTimeout(
                f"{argv[0]!r} did not finish within {timeout:g} s; killed", stdout, stderr
            )
        return ExecResult(
            list(argv), status.returncode, stdout, stderr, status, Timings(**vars(self.timings))
        )

    @staticmethod
    def _decode_exit(payload: bytes) -> ExitStatus:
        try:
            return decode_exit(payload)
        except ProtocolError as exc:
            raise ExecError(f"bad EXIT from the agent: {exc}") from exc

    def _flush(self, outgoing: bytearray) -> None:
        """Send what is left (stdin the command did not read): the agent drops it, but a
        frame cut in half would put the channel out of step for the next request."""
        deadline = time.monotonic() + FLUSH_TIMEOUT
        while outgoing:
            if time.monotonic() > deadline:
                raise ExecError(f"the agent did not take the rest of stdin in {FLUSH_TIMEOUT:g} s")
            self._pump(outgoing, 0.1)
        if self._frames:
            extra = ", ".join(f.type.name for f in self._frames)
            self._frames.clear()
            raise ExecError(f"unexpected frames from the agent after EXIT: {extra}")


def exec_command(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    settings: ExecSettings | None = None,
    **options: object,
) -> ExecResult:
    """Boot a VM, run `argv` in it, return its result; the VM is gone on return.

    `options` are ExecSettings fields (machine=, rootfs=, shares=, ...).
    """
    base = settings or ExecSettings()
    if options:
        base = ExecSettings(**{**vars(base), **options})  # type: ignore[arg-type]
    with AgentMachine(base) as vm:
        return vm.run(argv, input=input, timeout=timeout, env=env, cwd=cwd)
