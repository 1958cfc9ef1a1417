"""Answers derived from big files, remembered by the files' identity (images/file_memo.py)."""

import gzip
import os
import time
from pathlib import Path

import pytest
from kernel_fakes import make_bzimage, make_bzimage_with_payload, make_elf
from test_initramfs import fake_module

from minibios.images import kernel_image, vmlinux
from minibios.images.file_memo import FileMemo
from minibios.images.initramfs import find_modules
from minibios.images.kernel_image import inspect_kernel, inspect_kernel_remembered
from minibios.images.vmlinux import extract_vmlinux


class Counted:
    """compute() for FileMemo.remember that counts its calls."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.answer


def remember(memo: FileMemo, path: Path, compute: Counted, params: object = None) -> object:
    return memo.remember("test", [path], params, compute, lambda v: v, lambda v: v)


def test_an_answer_is_worked_out_once_per_file_version(tmp_path: Path) -> None:
    memo = FileMemo(tmp_path / "memo", racy_seconds=0)
    source = tmp_path / "big"
    source.write_bytes(b"one")
    compute = Counted({"answer": 1})
    assert remember(memo, source, compute) == {"answer": 1}
    assert remember(memo, source, compute) == {"answer": 1}
    assert compute.calls == 1
    # Other params, or a file that changed, are other questions.
    assert remember(memo, source, compute, params=["other"]) == {"answer": 1}
    assert compute.calls == 2
    source.write_bytes(b"two, longer")
    remember(memo, source, compute)
    assert compute.calls == 3
    # Rewritten with the same size and its old modification time: the change time differs.
    stat = source.stat()
    source.write_bytes(b"TWO, LONGER")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    remember(memo, source, compute)
    assert compute.calls == 4


def test_nothing_is_remembered_of_a_file_just_written_or_missing(tmp_path: Path) -> None:
    memo = FileMemo(tmp_path / "memo")  # the real 2 s: the file below is younger
    source = tmp_path / "big"
    source.write_bytes(b"fresh")
    compute = Counted(7)
    assert [remember(memo, source, compute) for _ in range(2)] == [7, 7]
    assert compute.calls == 2
    assert not (tmp_path / "memo").exists()
    assert remember(memo, tmp_path / "missing", compute) == 7
    assert compute.calls == 3


def test_a_broken_or_unwritable_memo_only_costs_time(tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(b"data")
    memo = FileMemo(tmp_path / "memo", racy_seconds=0)
    compute = Counted([1, 2])
    remember(memo, source, compute)
    (stored,) = (tmp_path / "memo" / "test").iterdir()
    stored.write_text("{not json")
    assert remember(memo, source, compute) == [1, 2]
    assert compute.calls == 2
    assert remember(memo, source, compute) == [1, 2]  # rewritten whole
    assert compute.calls == 2
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the memo directory would be")
    unwritable = FileMemo(blocked / "memo", racy_seconds=0)
    assert [remember(unwritable, source, compute) for _ in range(2)] == [[1, 2], [1, 2]]
    assert compute.calls == 4


@pytest.mark.parametrize(
    "data", [make_bzimage(), make_elf(0x1000850), make_elf(None)], ids=["bzimage", "elf", "no-pvh"]
)
def test_a_remembered_kernel_is_the_inspected_one(
    data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = tmp_path / "kernel"
    kernel.write_bytes(data)
    memo = FileMemo(tmp_path / "memo", racy_seconds=0)
    first = inspect_kernel_remembered(kernel, memo)
    assert first == inspect_kernel(kernel)

    def unread(path: Path) -> None:
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(kernel_image, "inspect_kernel", unread)
    assert inspect_kernel_remembered(kernel, memo) == first
    # Through another name, it is told by that name.
    alias = tmp_path / "alias"
    alias.symlink_to(kernel)
    assert inspect_kernel_remembered(alias, memo).path == alias


def test_a_remembered_vmlinux_is_checked_to_still_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bzimage = tmp_path / "bzImage"
    bzimage.write_bytes(make_bzimage_with_payload(gzip.compress(make_elf(0x1000850))))
    past = time.time() - 60
    os.utime(bzimage, (past, past))
    time.sleep(2.1)  # the change time, too, must be older than the racy window
    cache = tmp_path / "cache"
    first = extract_vmlinux(bzimage, cache)
    unpacks = []
    real_unpack = vmlinux._unpack_vmlinux
    monkeypatch.setattr(vmlinux, "_unpack_vmlinux", lambda *a: unpacks.append(a) or real_unpack(*a))
    assert extract_vmlinux(bzimage, cache) == first
    assert unpacks == []
    first.path.unlink()  # e.g. `rm -r ~/.cache/minibios/vmlinux`
    again = extract_vmlinux(bzimage, cache)
    assert len(unpacks) == 1 and again == first and again.path.is_file()


def test_remembered_modules_follow_modules_dep(tmp_path: Path) -> None:
    fake_module(tmp_path, "libnvdimm", "")
    fake_module(tmp_path, "nd_pmem", "libnvdimm")
    dep = tmp_path / "modules.dep"
    dep.write_text("kernel/drivers/nd_pmem.ko: kernel/drivers/libnvdimm.ko\n")
    memo = FileMemo(tmp_path / "memo", racy_seconds=0)
    names = [p.name for p in find_modules(tmp_path, ("nd_pmem",), memo)]
    assert names == ["libnvdimm.ko", "nd_pmem.ko"]
    assert len(list((tmp_path / "memo" / "kernel-modules").iterdir())) == 1
    # A module that went away is looked for again (and here found missing).
    (tmp_path / "kernel" / "drivers" / "libnvdimm.ko").unlink()
    with pytest.raises(Exception, match="libnvdimm not found"):
        find_modules(tmp_path, ("nd_pmem",), memo)
