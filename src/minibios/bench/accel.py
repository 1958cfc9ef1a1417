"""The accelerator each benchmark asks `choose_accel` for: the CLI's default for it.

TCG for all three, each for its own reason. Apart from the benchmarks so that the CLI's
parser can name them without importing a benchmark.
"""

# -icount record/replay (the instruction counts) needs TCG, and every phase is
# compared under the same accelerator.
BOOT_BENCH_ACCEL = "tcg"
# The figure is about TCG guests sharing the host's cores.
PARALLEL_ACCEL = "tcg"
# Every row (and the peer) under the same accelerator, TCG as in the other benchmarks.
EXEC_BENCH_ACCEL = "tcg"
