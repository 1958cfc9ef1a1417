from pathlib import Path

import pytest

from minibios.vm.accel import AccelError, AccelProbe, choose_accel

VMX = "processor\t: 0\nflags\t\t: fpu vme vmx sse2 hypervisor\n"
SVM = "processor\t: 0\nflags\t\t: fpu svm lm\n"
NONE = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\nbugs\t\t: vmx_fake\n"


def probe(tmp_path: Path, cpuinfo: str, kvm: bool) -> AccelProbe:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    device = tmp_path / "kvm"
    if kvm:
        device.write_bytes(b"")  # a plain file opens read-write like the device
    return AccelProbe(kvm_device=device, cpuinfo=info)


@pytest.mark.parametrize("cpuinfo", [VMX, SVM])
def test_auto_picks_kvm_when_usable(tmp_path: Path, cpuinfo: str) -> None:
    assert choose_accel("auto", probe(tmp_path, cpuinfo, kvm=True)) == "kvm"
    assert choose_accel("kvm", probe(tmp_path, cpuinfo, kvm=True)) == "kvm"


def test_paravirtual_kvm_without_vmx_is_not_used(tmp_path: Path) -> None:
    fake = probe(tmp_path, NONE, kvm=True)
    assert choose_accel("auto", fake) == "tcg"
    with pytest.raises(AccelError, match="no vmx or svm"):
        choose_accel("kvm", fake)


def test_missing_device(tmp_path: Path) -> None:
    fake = probe(tmp_path, VMX, kvm=False)
    assert choose_accel("auto", fake) == "tcg"
    with pytest.raises(AccelError, match="cannot open"):
        choose_accel("kvm", fake)


def test_unreadable_cpuinfo(tmp_path: Path) -> None:
    fake = AccelProbe(kvm_device=probe(tmp_path, VMX, kvm=True).kvm_device, cpuinfo=tmp_path / "x")
    assert choose_accel("auto", fake) == "tcg"


def test_tcg_never_probes(tmp_path: Path) -> None:
    assert choose_accel("tcg", AccelProbe(tmp_path / "a", tmp_path / "b")) == "tcg"


def test_unknown_choice() -> None:
    with pytest.raises(AccelError, match="unknown accelerator"):
        choose_accel("hvf")
