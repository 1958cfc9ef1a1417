"""Run commands in a VM: the guest agent, its protocol, and the host side that drives it."""
