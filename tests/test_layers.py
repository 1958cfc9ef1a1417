"""The package's layers: every import in src/minibios goes down (README, Architecture).

Read from the source with `ast`, so a lazy import inside a function counts too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "minibios"
# Higher imports lower; equal ranks may not import each other (images and firmware
# are independent), except a subpackage's modules among themselves.
RANKS = {
    "minibios": 0,  # errors, sizes: shared by every layer
    "minibios.images": 1,
    "minibios.firmware": 1,
    "minibios.vm": 2,
    "minibios.agent": 3,  # commands in a VM: the guest agent and its host side
    "minibios.bench": 4,
    "minibios.cli": 5,
    "minibios.__main__": 6,
}


def layer_of(module: str) -> str:
    """The RANKS key a dotted module name belongs to."""
    parts = module.split(".")
    head = ".".join(parts[:2])
    if head in RANKS:
        return head
    if parts[0] == "minibios" and len(parts) <= 2:
        return "minibios"  # the package root and its modules (errors, sizes)
    raise AssertionError(f"{module} is in no layer: add it to RANKS")


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every minibios module `path` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "minibios"]


def edge_allowed(importer: str, imported: str) -> bool:
    a, b = layer_of(importer), layer_of(imported)
    return a == b or RANKS[a] > RANKS[b]


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path: Path) -> None:
    importer = module_name(path)
    bad = [
        f"line {line}: {importer} ({layer_of(importer)}) imports {name} ({layer_of(name)})"
        for line, name in imports_of(path)
        if not edge_allowed(importer, name)
    ]
    assert not bad, "\n".join(bad)


def test_every_subpackage_has_a_layer() -> None:
    packages = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert packages <= set(RANKS), packages - set(RANKS)


def test_the_check_catches_an_upward_import() -> None:
    assert not edge_allowed("minibios.vm.machine", "minibios.bench.probe")
    assert not edge_allowed("minibios.images.assets", "minibios.firmware.rom")
    assert not edge_allowed("minibios.sizes", "minibios.vm.spec")
    assert edge_allowed("minibios.cli.commands", "minibios.vm.spec")
    assert edge_allowed("minibios.vm.spec", "minibios.sizes")
    assert edge_allowed("minibios.bench.probe", "minibios.bench.gdb_remote")
