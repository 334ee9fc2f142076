{%- set name = cookiecutter.device_name -%}
"""The command-line client against a running controller."""

import inspect
import subprocess
import sys

import pytest

from conftest import NAME, SIPYCO_MISSING, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver


def run_client(port, *arguments):
    return subprocess.run(
        [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
         "-s", "127.0.0.1", "-p", str(port), *arguments],
        capture_output=True, text=True, timeout=30)


def test_every_driver_method_is_a_command():
    result = run_client(free_port(), "--help")
    assert result.returncode == 0
    for name, method in inspect.getmembers(Driver, inspect.isfunction):
        if not name.startswith("_") and name != "close":
            assert name in result.stdout
            summary = inspect.getdoc(method).split("\n")[0]
            assert summary[:30] in " ".join(result.stdout.split())


def test_ping_through_the_client(simulation):
    simulation.client().close_rpc()
    result = run_client(simulation.port, "ping")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"
    code, _, _ = simulation.terminate_over_rpc()
    assert code == 0


def test_a_wrong_argument_is_a_usage_error():
    result = run_client(free_port(), "ping", "extra")
    assert result.returncode == 2
    assert "unrecognized arguments: extra" in result.stderr


def test_unreachable_controller_gives_one_error_line():
    result = run_client(free_port(), "ping")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"aqcli_{NAME}: error: cannot reach the controller at ")


def test_a_command_is_required():
    result = run_client(free_port())
    assert result.returncode == 2
    assert "ping" in result.stderr
