import pytest
from fwhost import HostFirmware, build_host_library, load


@pytest.fixture(scope="session")
def fw() -> HostFirmware:
    return load(build_host_library())


@pytest.fixture
def console(fw: HostFirmware):
    fw.lib.harness_reset_console()
    return fw
