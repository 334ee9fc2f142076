"""The generic runtime's controller life cycle (ndsp_runtime.controller),
once, in the default project's controller: every way it can be stopped
closes the device and exits with code 0. Each generated project's
test_contract_controller.py stops its own controller the two ways
artiq_ctlmgr does (terminate, then SIGTERM)."""

import sys

import pytest

from conftest import HAS_SIPYCO

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the controller serves over the "
                "real sipyco", allow_module_level=True)
if sys.platform == "win32":
    pytest.skip("Windows has no POSIX signals", allow_module_level=True)

from attacks import Controller  # noqa: E402


@pytest.mark.parametrize("how", ["terminate", "SIGTERM", "SIGINT", "SIGHUP"])
def test_every_way_to_stop_closes_the_device(render, how):
    """terminate and SIGTERM, as artiq_ctlmgr stops it; SIGINT, Ctrl-C in
    a terminal; SIGHUP, the terminal closed."""
    code, stderr = Controller(render(), "hello", "-v").stop(how)
    assert code == 0, stderr
    assert "the device is closed" in stderr
    assert "Traceback" not in stderr
