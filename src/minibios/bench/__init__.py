"""Layer 3: instrumented boots and what they measure (probe, gdb stub, trace, tables, plots).

Imports from minibios.vm and below; never from cli.
"""
