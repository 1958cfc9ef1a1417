"""Layer 2: one VM, described (VmSpec), checked (preflight) and run (Machine).

Imports only from minibios.images, minibios.firmware and the package root
(errors, sizes); never from bench or cli.
"""
