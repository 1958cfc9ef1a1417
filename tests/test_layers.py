"""The package's layers: every import in src/minibios goes down (README, Architecture).

Read from the source with `ast`, so a lazy import inside a function counts too.

The one exception, explicit and checked here: the package's `__init__` is also the public
facade (`minibios.exec`, ...). It names what it re-exports in `minibios.FACADE` and
imports those modules by name on first use (its `__getattr__`), so importing the package
still loads nothing above the bottom layer; no other module imports by name.
"""

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import minibios

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


def _imports_by_name(path: Path) -> list[int]:
    """Lines where `path` calls importlib.import_module or __import__."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
        )
    ]


def test_only_the_facade_imports_by_name() -> None:
    facade = PACKAGE / "__init__.py"
    assert _imports_by_name(facade), "the facade no longer imports lazily: update this test"
    others = {
        str(path.relative_to(PACKAGE)): lines
        for path in sources()
        if path != facade and (lines := _imports_by_name(path))
    }
    assert not others, f"imports by name escape the layer check: {others}"


@pytest.mark.parametrize("name", sorted(minibios.FACADE))
def test_the_facade_only_reexports(name: str) -> None:
    module = minibios.FACADE[name]
    assert RANKS[layer_of(module)] > RANKS["minibios"], f"{module} needs no facade"
    defined_in = importlib.import_module(module)
    assert name in defined_in.__all__, f"{module} does not export {name}"
    assert getattr(minibios, name) is getattr(defined_in, name)
    assert name in minibios.__all__ and name in dir(minibios)


def test_the_facade_defines_nothing_itself() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert not classes and functions <= {"__getattr__", "__dir__"}, (classes, functions)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = minibios.no_such_name


def _modules_loaded_by(code: str) -> list[str]:
    """The minibios modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return [m for m in json.loads(result.stdout) if m.split(".")[0] == "minibios"]


def test_importing_the_package_loads_only_the_bottom_layer() -> None:
    loaded = _modules_loaded_by("import minibios, minibios.errors, minibios.sizes")
    assert "minibios.errors" in loaded
    assert {layer_of(m) for m in loaded} == {"minibios"}, loaded
    # First use of a facade name imports its module, and only then.
    assert "minibios.agent" in _modules_loaded_by("import minibios\nminibios.exec")
