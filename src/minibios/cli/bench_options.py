"""The options of the benchmarks: bench, bench-parallel, bench-exec, bench-memory.

Their commands (cli/bench_commands.py, cli/bench_memory.py) import the benchmarks; the
parser, built for every command, does not.
"""

import argparse
from pathlib import Path
from types import MappingProxyType

from minibios.bench.accel import BOOT_BENCH_ACCEL, EXEC_BENCH_ACCEL, PARALLEL_ACCEL
from minibios.cli.options import add_options

BENCH_APPEND = "console=ttyS0 quiet panic=-1"
DEFAULT_KERNEL = MappingProxyType({"help": "kernel (default: the cached Debian cloud kernel)"})
DEFAULT_INITRD = MappingProxyType({"help": "initrd (default: the demo initramfs)"})


def add_bench_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bench = commands.add_parser(
        "bench", help="time every boot phase for several firmwares, interleaved"
    )
    add_options(bench, "kernel", "initrd", "append", "machine", "memory", "microvm_acpi",
                "firmware", kernel=DEFAULT_KERNEL, initrd=DEFAULT_INITRD,
                append={"default": BENCH_APPEND, "help": "kernel command line"},
                firmware={"default": "minibios,seabios,qboot",
                          "help": "comma-separated: minibios, seabios, qboot or ROM files; "
                          "minibios:16, minibios:32, minibios:64 pick its way into Linux; "
                          "NAME:pvh boots the kernel's vmlinux through PVH"})  # fmt: skip
    bench.set_defaults(accel=BOOT_BENCH_ACCEL)
    bench.add_argument("--runs", type=int, default=10, help="timed runs per firmware (10)")
    bench.add_argument("--count-runs", type=int, default=2, help="counting runs per firmware (2)")
    bench.add_argument("--json", type=Path, help="write every raw run here")
    bench.add_argument("--plot", type=Path, help="write a timeline plot (.svg or .png)")


def add_bench_parallel_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    par = commands.add_parser(
        "bench-parallel",
        help="wall time of N VMs booted at once against the same N one by one (TCG)",
    )
    par.add_argument("--vms", type=int, default=8, help="VMs per batch (default 8)")
    add_options(par, "kernel", "initrd", "append", "machine", "memory", "firmware",
                "microvm_acpi", "timeout", kernel=DEFAULT_KERNEL, initrd=DEFAULT_INITRD,
                append={"default": BENCH_APPEND, "help": "kernel command line"},
                memory={"default": "256M", "help": "RAM per VM (default %(default)s)"},
                timeout={"default": 300.0,
                         "help": "seconds per VM before it is stopped (%(default)g)"})  # fmt: skip
    par.set_defaults(accel=PARALLEL_ACCEL)
    par.add_argument("--json", type=Path, help="write every VM's outcome here")


def add_bench_exec_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bench_exec = commands.add_parser(
        "bench-exec", help="time `exec /bin/true` phase by phase for several firmwares"
    )
    bench_exec.add_argument("--runs", type=int, default=5, help="runs per firmware (5)")
    bench_exec.add_argument("--firmware", default="minibios,seabios,qboot")
    bench_exec.add_argument("--machine", default="pc", help="pc, q35 or microvm (default pc)")
    bench_exec.add_argument("--rootfs", default="initramfs", choices=("host", "initramfs"))
    bench_exec.add_argument(
        "--footprint",
        metavar="N,N,...",
        help="also: PSS and CPU time of each QEMU with N VMs restored from one state at once",
    )
    bench_exec.add_argument(
        "--snapshot",
        default="off",
        help="off (cold boots), auto (restored from a saved state), pool (restored in a QEMU "
        "started ahead at -incoming defer), pool-warm (the same, its guest having run "
        "/bin/true once); several, comma-separated: interleaved",
    )
    bench_exec.add_argument(
        "--peer",
        choices=("vng",),
        help="also time virtme-ng's `vng --exec` in the same rounds; every row then boots "
        "Debian's generic kernel, the one vng can boot here",
    )
    bench_exec.set_defaults(accel=EXEC_BENCH_ACCEL)


def add_bench_memory_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    parser = commands.add_parser(
        "bench-memory", help="QEMU's peak RSS and PSS per VM (TCG), interleaved, medians"
    )
    parser.add_argument("--machine", default="pc,q35,microvm", help="comma-separated")
    parser.add_argument("--firmware", default="minibios,seabios,qboot", help="comma-separated")
    parser.add_argument(
        "--tb-size",
        default="0",
        help="comma-separated TCG translation cache sizes in MiB; 0 = QEMU's default (0)",
    )
    parser.add_argument(
        "--kernel-page-out",
        default="on",
        help="comma-separated on/off: page QEMU's kernel file mapping out once loaded (on)",
    )
    parser.add_argument("--memory", default="512M", help="guest RAM (default 512M)")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (3)")
    parser.add_argument("--json", type=Path, help="write every run here")
