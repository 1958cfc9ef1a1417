import ctypes

import pytest
from fwhost import HostFirmware, build_host_library, load


@pytest.fixture(scope="session")
def fw() -> HostFirmware:
    return load(build_host_library())


@pytest.fixture
def console(fw: HostFirmware):
    fw.lib.harness_reset_console()
    return fw


@pytest.fixture
def guest_ram(fw: HostFirmware):
    """1 MiB of simulated guest memory behind phys_ptr(); stray accesses are counted."""
    ram = ctypes.create_string_buffer(1 << 20)
    fw.lib.harness_set_ram(ctypes.addressof(ram), len(ram))
    yield ram
    fw.lib.harness_set_ram(None, 0)
