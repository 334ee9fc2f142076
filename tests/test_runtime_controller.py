"""The generic runtime's controller life cycle (ndsp_runtime.controller),
once, in the default project's controller: every way it can be stopped
closes the device and exits with code 0; what stops it from starting is
one line, with the traceback under -v only. Each generated project's
test_contract_controller.py stops its own with terminate, as artiq_ctlmgr
does first, and opens its own device at an address that does not
answer."""

import os
import subprocess
import sys

import pytest

from conftest import HAS_SIPYCO

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the controller serves over the "
                "real sipyco", allow_module_level=True)
if sys.platform == "win32":
    pytest.skip("Windows has no POSIX signals", allow_module_level=True)

from attacks import Controller, free_port  # noqa: E402


def run_controller(project, *arguments):
    """The project's controller, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "hello.aqctl_hello", *arguments],
        cwd=project, env=dict(os.environ, PYTHONPATH=str(project)),
        capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("how", ["terminate", "SIGTERM", "SIGINT", "SIGHUP"])
def test_every_way_to_stop_closes_the_device(render, how):
    """terminate and SIGTERM, as artiq_ctlmgr stops it; SIGINT, Ctrl-C in
    a terminal; SIGHUP, the terminal closed."""
    code, stderr = Controller(render(), "hello", "-v").stop(how)
    assert code == 0, stderr
    assert "the device is closed" in stderr
    assert "Traceback" not in stderr


def test_a_busy_port_is_one_error_line(render):
    project = render()
    serving = Controller(project, "hello")
    try:
        second = run_controller(project, "--simulation", "-p",
                                str(serving.port), "--no-localhost-bind",
                                "--bind", "127.0.0.1")
    finally:
        serving.stop()
    assert second.returncode == 1
    [line] = second.stderr.strip().splitlines()
    assert line.startswith(
        f"aqctl_hello: error: cannot serve on port {serving.port}"), line


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_the_traceback_is_shown_with_v_only(render, verbose):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = run_controller(render(), *verbose, "-d", address)
    assert result.returncode == 1
    assert ("Traceback" in result.stderr) == bool(verbose)
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"aqctl_hello: error: cannot open device {address!r}: ")
