"""The README's "Using minibios elsewhere" examples, run as written (paths substituted).

libvirt runs as a private session daemon: unprivileged (as `nobody` when the tests
run as root), its config, state, socket and firmware descriptors all under a
temporary directory, so nothing on the host changes and nothing is shared with a
system libvirtd. The domains are TCG (`type='qemu'`) and log their console to a file.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vm_support import BootImages

from minibios.bench.vng_peer import VNG_FLAGS, VNG_TCG_FLAG, VngPeer, find_vng, vng_blocker
from minibios.firmware import rom
from minibios.firmware.choice import SEABIOS_PC
from minibios.images.assets import KernelAssets
from minibios.images.report import GuestReport, find_report, parse_report_json

README = Path(__file__).resolve().parents[1] / "README.md"
# The README's placeholders, replaced by each test's own files.
README_ROM = "/usr/local/share/minibios/minibios.rom"
README_KERNEL = "/var/lib/minibios/vmlinuz"
README_INITRD = "/var/lib/minibios/initrd.img"
README_CONSOLE = "/var/lib/minibios/console.log"
CPUS = 2
DAEMON_START_TIMEOUT = 30.0
BOOT_TIMEOUT = 240.0
COMMAND_TIMEOUT = 120.0
VNG_TIMEOUT = 400.0
SESSION_URI = "qemu:///session"


def readme_example(name: str) -> str:
    """The code block right after `<!-- tested: NAME -->` in the README."""
    match = re.search(
        rf"<!-- tested: {re.escape(name)} -->\n```\w*\n(.*?)```", README.read_text(), re.DOTALL
    )
    assert match, f"README has no example marked `tested: {name}`"
    return match.group(1)


@dataclass(frozen=True)
class GuestFiles:
    rom: Path
    kernel: Path
    initrd: Path
    logs: Path  # writable by whoever runs QEMU

    def substitute(self, text: str, console: Path) -> str:
        for placeholder, real in (
            (README_ROM, self.rom),
            (README_KERNEL, self.kernel),
            (README_INITRD, self.initrd),
            (README_CONSOLE, console),
        ):
            text = text.replace(placeholder, str(real))
        return text


def _drop_privileges() -> list[str]:
    """Root would make libvirtd the system daemon: run the session one as nobody."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot start an unprivileged libvirtd")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _give_to_daemon_user(path: Path, as_user: list[str]) -> None:
    if as_user:
        shutil.chown(path, "nobody", "nogroup")


@pytest.fixture(scope="module")
def guest_files(boot_images: BootImages) -> Iterator[GuestFiles]:
    """Copies every user can read (the cache may sit in root's private home)."""
    root = Path(tempfile.mkdtemp(prefix="minibios-elsewhere-"))
    root.chmod(0o755)
    files = GuestFiles(
        rom=root / "minibios.rom",
        kernel=root / "vmlinuz",
        initrd=root / "initrd.img",
        logs=root / "logs",
    )
    shutil.copyfile(rom.rom_path(), files.rom)
    shutil.copyfile(boot_images.kernel.vmlinuz, files.kernel)
    shutil.copyfile(boot_images.plain_initrd, files.initrd)
    files.logs.mkdir(mode=0o777)
    files.logs.chmod(0o777)
    for path in (files.rom, files.kernel, files.initrd):
        path.chmod(0o644)
    yield files
    shutil.rmtree(root, ignore_errors=True)


def wait_report(console: Path, timeout: float = BOOT_TIMEOUT) -> GuestReport:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = console.read_text(errors="replace") if console.exists() else ""
        match = find_report(text)
        if match:
            return parse_report_json(match.group(1))
        time.sleep(0.5)
    tail = "\n".join(text.splitlines()[-15:])
    raise AssertionError(f"no report on {console} within {timeout:g} s; tail:\n{tail}")


def assert_minibios_guest(report: GuestReport, machine_name: str) -> None:
    assert report.dmi.get("bios_vendor") == "minibios", report.dmi
    assert report.cpus == CPUS and report.nproc_cpuinfo == CPUS
    assert machine_name in report.dmi.get("product_name", ""), report.dmi


# -- plain QEMU ---------------------------------------------------------------


@pytest.mark.boot
def test_plain_qemu_line(guest_files: GuestFiles, tmp_path: Path) -> None:
    command = readme_example("qemu").replace("\\\n", " ")
    argv = shlex.split(guest_files.substitute(command, tmp_path / "unused"))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=BOOT_TIMEOUT)
    assert result.returncode == 0, result.stderr
    match = find_report(result.stdout)
    assert match, result.stdout[-2000:]
    assert_minibios_guest(parse_report_json(match.group(1)), "i440FX")


# -- libvirt --------------------------------------------------------------------


@dataclass
class Session:
    root: Path
    env: dict[str, str]
    as_user: list[str]
    daemon: subprocess.Popen[bytes]

    @property
    def firmware_dir(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "qemu" / "firmware"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.as_user, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"{argv[0]} failed: {result.stderr}"
        return result

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("virsh", "-c", SESSION_URI, *args, check=check)

    def domains(self) -> list[str]:
        return self.virsh("list", "--name").stdout.split()

    def wait_gone(self, name: str, timeout: float = 60.0) -> None:
        """The guest powered off and its transient domain went away."""
        deadline = time.monotonic() + timeout
        while name in self.domains():
            assert time.monotonic() < deadline, f"domain {name} still running"
            time.sleep(0.5)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def libvirt() -> Iterator[Session]:
    for tool in ("libvirtd", "virsh"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (libvirt-daemon-system; run ./scripts/setup)")
    as_user = _drop_privileges()
    root = Path(tempfile.mkdtemp(prefix="minibios-libvirt-"))
    root.chmod(0o755)
    home, runtime = root / "home", root / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LC_ALL": "C",
    }
    config = home / ".config" / "libvirt"
    config.mkdir(parents=True)
    # QEMU's output straight to files: no virtlogd to start (and stop) as well.
    (config / "qemu.conf").write_text('stdio_handler = "file"\n')
    (home / ".config" / "qemu" / "firmware").mkdir(parents=True)
    for path in [home, runtime, *home.rglob("*")]:
        _give_to_daemon_user(path, as_user)
    log = (root / "libvirtd.log").open("wb")
    daemon = subprocess.Popen(
        [*as_user, "libvirtd"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    session = Session(root, env, as_user, daemon)
    try:
        socket = runtime / "libvirt" / "libvirt-sock"
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while not socket.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                _stop(daemon)
                tail = (root / "libvirtd.log").read_text(errors="replace")[-1500:]
                pytest.skip(f"the session libvirtd did not start: {tail}")
            time.sleep(0.2)
        yield session
    finally:
        try:
            if daemon.poll() is None:
                for name in session.domains():
                    session.virsh("destroy", name, check=False)
        finally:
            _stop(daemon)
            log.close()
            shutil.rmtree(root, ignore_errors=True)


def _domain_xml(files: GuestFiles, name: str, machine: str, console: Path) -> str:
    xml = files.substitute(readme_example("libvirt-rom"), console)
    xml = xml.replace("<name>minibios-guest</name>", f"<name>{name}</name>")
    return xml.replace("machine='pc'", f"machine='{machine}'")


def _boot_domain(session: Session, xml: str, name: str, console: Path) -> GuestReport:
    path = console.with_suffix(".xml")
    path.write_text(xml)
    path.chmod(0o644)
    session.virsh("create", str(path))
    report = wait_report(console)
    session.wait_gone(name)
    return report


@pytest.mark.boot
@pytest.mark.parametrize(("machine", "product"), [("pc", "i440FX"), ("q35", "Q35")])
def test_libvirt_loader_rom(
    libvirt: Session, guest_files: GuestFiles, machine: str, product: str
) -> None:
    name = f"minibios-rom-{machine}"
    console = guest_files.logs / f"{name}.log"
    report = _boot_domain(libvirt, _domain_xml(guest_files, name, machine, console), name, console)
    assert_minibios_guest(report, product)


def _descriptor_domain(files: GuestFiles, name: str, console: Path) -> str:
    xml = _domain_xml(files, name, "q35", console)
    os_element = files.substitute(readme_example("libvirt-descriptor"), console)
    replaced = re.sub(r"  <os>.*?</os>\n", lambda _: os_element, xml, flags=re.DOTALL)
    assert "firmware='bios'" in replaced and "<loader" not in replaced
    return replaced


def _install_descriptor(session: Session, files: GuestFiles, prefix: Path) -> None:
    """`minibios install --descriptor` into the session's descriptor directory."""
    result = subprocess.run(
        [sys.executable, "-m", "minibios", "install", "--prefix", str(prefix), "--descriptor",
         "--descriptor-dir", str(session.firmware_dir)],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for path in [prefix, *prefix.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.boot
def test_libvirt_descriptor_picks_minibios_but_not_before_others(
    libvirt: Session, guest_files: GuestFiles
) -> None:
    prefix = guest_files.logs.parent / "prefix"
    _install_descriptor(libvirt, guest_files, prefix)
    ours = libvirt.firmware_dir / "90-minibios.json"
    assert ours.is_file()
    name = "minibios-descriptor"
    console = guest_files.logs / f"{name}.log"
    report = _boot_domain(libvirt, _descriptor_domain(guest_files, name, console), name, console)
    assert_minibios_guest(report, "Q35")

    # A BIOS descriptor numbered as distributions do comes first: minibios does
    # not take over firmware='bios' domains where another BIOS is described.
    if not SEABIOS_PC.is_file():
        pytest.skip(f"{SEABIOS_PC} missing: cannot check the descriptor order")
    other = libvirt.firmware_dir / "50-seabios-test.json"
    document = ours.read_text().replace(
        str(prefix / "share/minibios/minibios.rom"), str(SEABIOS_PC)
    )
    other.write_text(document)
    other.chmod(0o644)
    name = "seabios-descriptor"
    console = guest_files.logs / f"{name}.log"
    report = _boot_domain(libvirt, _descriptor_domain(guest_files, name, console), name, console)
    assert report.dmi.get("bios_vendor") != "minibios", report.dmi
    other.unlink()


@pytest.mark.boot
def test_virt_install_line(libvirt: Session, guest_files: GuestFiles) -> None:
    if shutil.which("virt-install") is None:
        pytest.skip("virt-install not installed (virtinst; run ./scripts/setup)")
    name = "minibios-virt-install"
    console = guest_files.logs / f"{name}.log"
    command = guest_files.substitute(readme_example("virt-install").replace("\\\n", " "), console)
    argv = shlex.split(command)
    argv[argv.index("--name") + 1] = name
    libvirt.run(argv[0], "--connect", SESSION_URI, *argv[1:])
    report = wait_report(console)
    libvirt.wait_gone(name)
    assert_minibios_guest(report, "Q35")


# -- virtme-ng -------------------------------------------------------------------


def test_the_bench_peer_runs_vng_as_the_readme_does() -> None:
    """`minibios bench-exec --peer vng` builds its own vng line: the flags that make vng
    work here must be the ones this README line (run below) has."""
    readme = shlex.split(readme_example("vng").replace("\\\n", " "))
    kernel = KernelAssets("6.1.0-1-amd64", Path("/k/boot/vmlinuz-6.1.0-1-amd64"), Path("/k/m"))
    argv = VngPeer(Path("/venv/bin/vng"), kernel).argv(["/bin/true"])
    for flag in (VNG_TCG_FLAG, *VNG_FLAGS, "--verbose"):
        assert flag in readme and flag in argv, flag
    assert argv[argv.index("--run") + 1] == str(kernel.vmlinuz)


@pytest.mark.boot
def test_vng_line(generic_kernel: KernelAssets, tmp_path: Path) -> None:
    blocker = vng_blocker()
    if blocker:
        pytest.skip(blocker)
    vng = find_vng()
    assert vng is not None
    command = readme_example("vng").replace("\\\n", " ")
    # vng finds the modules next to the kernel: the generic kernel in its unpacked tree.
    command = command.replace(README_KERNEL, str(generic_kernel.vmlinuz))
    command = command.replace(README_ROM, str(rom.rom_path()))
    result = subprocess.run(
        shlex.split(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # vng puts the guest's console on either
        text=True,
        timeout=VNG_TIMEOUT,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        env=VngPeer(vng, generic_kernel).env(tmp_path),  # vng and virtme-run on PATH
    )
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "minibios" in lines, result.stdout[-3000:]
    # nproc's answer right after the vendor: the CPUs asked for.
    assert lines[lines.index("minibios") + 1] == str(CPUS), result.stdout[-3000:]
