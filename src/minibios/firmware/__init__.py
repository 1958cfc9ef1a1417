"""Layer 1: the firmware a VM starts: the minibios ROM (built or packaged) and the others.

Imports only from the package root (errors, sizes).
"""
