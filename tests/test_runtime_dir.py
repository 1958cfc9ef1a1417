"""Private VM dirs carry their owner's pid; a dead owner's dirs are swept."""

import os
import subprocess
from pathlib import Path

from minibios.vm.runtime_dir import RUNTIME_DIR_PREFIX, remove_orphaned_runtime_dirs


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_only_dead_owners_dirs_go(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getpid()
    orphan = tmp_path / f"{RUNTIME_DIR_PREFIX}{dead}-abc123"
    (orphan / "sub").mkdir(parents=True)
    (orphan / "qemu.stderr").write_text("x")
    keep = [
        tmp_path / f"{RUNTIME_DIR_PREFIX}{alive}-def456",  # a live owner (us)
        tmp_path / f"{RUNTIME_DIR_PREFIX}{os.getppid()}-x",  # another live one
        tmp_path / f"{RUNTIME_DIR_PREFIX}abc-x",  # no pid
        tmp_path / f"{RUNTIME_DIR_PREFIX}{dead}",  # no random part: not ours
        tmp_path / f"minibios-other-{dead}-x",  # another prefix
    ]
    for path in keep:
        path.mkdir()
    not_a_dir = tmp_path / f"{RUNTIME_DIR_PREFIX}{dead}-file"
    not_a_dir.write_text("x")
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"{RUNTIME_DIR_PREFIX}{dead}-link"
    link.symlink_to(target)

    assert remove_orphaned_runtime_dirs(tmp_path) == [orphan]
    assert not orphan.exists()
    for path in [*keep, not_a_dir, link, target]:
        assert path.exists(), path


def test_an_empty_or_missing_parent_is_fine(tmp_path: Path) -> None:
    assert remove_orphaned_runtime_dirs(tmp_path) == []
    assert remove_orphaned_runtime_dirs(tmp_path / "missing") == []
