"""Layer 1: what a VM boots: kernel images, vmlinux, ELF, cpio, the initramfs and its /init.

Imports only from the package root (errors, sizes).
"""
