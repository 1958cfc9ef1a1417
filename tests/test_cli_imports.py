"""The `minibios` command imports only what the chosen subcommand runs.

`minibios exec` is the quick one: with a saved state the VM answers in a few hundred
ms, so the CLI's own imports (the benchmarks, the installer, ...) must not add to it.
Each check runs a fresh interpreter: what this test process imported does not count.
"""

import json
import subprocess
import sys

import pytest

# Never needed to run a command in a VM: the benchmarks, the installer (importlib.metadata),
# the `run`/`demo` report, the demo's plan.
NOT_FOR_EXEC = (
    "minibios.bench.exec_bench",
    "minibios.bench.runner",
    "minibios.bench.parallel",
    "minibios.bench.memory",
    "minibios.bench.probe",
    "minibios.bench.vng_peer",
    "minibios.firmware.install",
    "minibios.vm.session",
    "minibios.cli.demo",
)
# What only a command's run needs, not the parser that offers every command.
NOT_FOR_PARSING = (*NOT_FOR_EXEC, "minibios.agent.session", "minibios.vm.machine", "qemu.qmp")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["exec", "--rootfs", "initramfs"],
        ["rom"],
        ["install"],
        ["snapshot", "ls"],
        ["run", "--kernel", "bzImage"],
    ],
    ids=lambda argv: argv[0],
)
def test_parsing_imports_no_command(argv: list[str]) -> None:
    # As the `minibios` script starts: the package's entry module, then the parser.
    loaded = modules_after(
        f"import minibios.cli\nminibios.cli.commands.build_parser().parse_args({argv!r})"
    )
    assert "minibios.cli.commands" in loaded
    assert sorted(loaded & set(NOT_FOR_PARSING)) == []


def test_exec_imports_only_what_it_runs() -> None:
    # Through main() and the dispatch to exec's handler, stopped by its first check
    # (no command after `--`): every import of the exec path has happened by then.
    loaded = modules_after(
        "import minibios.cli\n"
        "from minibios.cli.commands import main\n"
        "assert main(['exec', '--rootfs', 'initramfs']) == 2"
    )
    assert {"minibios.cli.exec_command", "minibios.agent.session"} <= loaded
    assert sorted(loaded & set(NOT_FOR_EXEC)) == []
