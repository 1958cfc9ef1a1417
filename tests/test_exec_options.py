"""`minibios exec` options and settings that need no VM."""

from pathlib import Path

import pytest

from minibios.agent import session
from minibios.agent.build import agent_modules
from minibios.agent.settings import ExecInputError, ShareSpec, Timings
from minibios.cli.commands import build_parser
from minibios.cli.exec_command import pool_conflict
from minibios.images.assets import KernelAssets


def test_share_spec_forms(tmp_path: Path) -> None:
    assert ShareSpec.parse(str(tmp_path)) == ShareSpec(tmp_path, str(tmp_path), False)
    assert ShareSpec.parse(f"{tmp_path}:ro") == ShareSpec(tmp_path, str(tmp_path), True)
    assert ShareSpec.parse(f"{tmp_path}:/mnt/x") == ShareSpec(tmp_path, "/mnt/x", False)
    assert ShareSpec.parse(f"{tmp_path}:/mnt/x:ro") == ShareSpec(tmp_path, "/mnt/x", True)
    assert ShareSpec.parse(f"{tmp_path}:/mnt/x:rw") == ShareSpec(tmp_path, "/mnt/x", False)


@pytest.mark.parametrize("spec", ["", ":/x", "{d}:relative", "{d}/missing", "{d}:/a:/b"])
def test_bad_share_specs_are_named(spec: str, tmp_path: Path) -> None:
    with pytest.raises(ExecInputError, match="share"):
        ShareSpec.parse(spec.format(d=tmp_path))


def test_timings_render_every_phase() -> None:
    text = Timings(0.1, 0.2, 0.3, 0.4, 0.5, 0.6).render()
    assert text == (
        "minibios: time: prepare 100 ms, QEMU start 200 ms, firmware+early kernel 300 ms, "
        "kernel 400 ms, agent ready 500 ms, command 600 ms; total 2100 ms"
    )


@pytest.mark.boot  # needs the downloaded kernel's modules
def test_agent_modules_resolve_dependencies(kernel_assets: KernelAssets) -> None:
    names = [p.name.split(".ko")[0] for p in agent_modules(kernel_assets.modules_dir, "microvm")]
    assert names.index("fuse") < names.index("virtiofs")
    assert {"virtio_mmio", "virtio_console", "overlay"} <= set(names)
    plain = agent_modules(kernel_assets.modules_dir, "pc", shares=False)
    assert [p.name.split(".ko")[0] for p in plain][-1] == "virtio_console"


def test_rootfs_falls_back_to_the_initramfs_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(session, "virtiofs_blocker", lambda: "no virtiofsd (test)")
    vm = session.AgentMachine(session.ExecSettings(rootfs="auto"))
    assert vm._choose_rootfs() is False
    assert (vm.rootfs, vm.notes) == (
        "initramfs",
        ["--rootfs host needs virtiofs (no virtiofsd (test)); using the initramfs"],
    )
    shared = session.ExecSettings(shares=(ShareSpec.parse(str(tmp_path)),))
    with pytest.raises(ExecInputError, match=r"--share needs virtiofs.*no virtiofsd"):
        session.AgentMachine(shared)._choose_rootfs()
    monkeypatch.setattr(session, "virtiofs_blocker", lambda: None)
    vm = session.AgentMachine(session.ExecSettings(rootfs="auto"))
    assert (vm._choose_rootfs(), vm.rootfs, vm.notes) == (True, "host", [])


@pytest.mark.parametrize(
    ("options", "conflict"),
    [
        ([], None),
        (["--rootfs", "initramfs", "--memory", "1G"], None),  # the pool's own options apply
        (["--share", "/tmp"], "--share"),
        (["--rootfs", "host"], "--rootfs host"),
    ],
)
def test_a_pool_is_not_used_for_what_its_vms_lack(options: list[str], conflict: str | None) -> None:
    args = build_parser().parse_args(["exec", "--pool", "/nonexistent.sock", *options])
    assert pool_conflict(args) == conflict
