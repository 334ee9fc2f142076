"""The command-line client against a running controller."""

import subprocess
import sys

import pytest

from conftest import NAME, SIPYCO_MISSING, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)


def run_client(port, *arguments):
    return subprocess.run(
        [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
         "-s", "127.0.0.1", "-p", str(port), *arguments],
        capture_output=True, text=True, timeout=30)


def test_message_and_ping(simulation):
    simulation.client().close_rpc()
    result = run_client(simulation.port, "message", "from the client")
    assert result.returncode == 0, result.stderr
    assert run_client(simulation.port, "ping").stdout == "True\n"
    code, stdout, _ = simulation.terminate_over_rpc()
    assert code == 0
    assert "[simulation] message: from the client" in stdout


def test_unreachable_controller_gives_one_error_line():
    result = run_client(free_port(), "ping")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"aqcli_{NAME}: error: cannot reach the controller at ")


def test_a_command_is_required():
    result = run_client(free_port())
    assert result.returncode == 2
    assert "message" in result.stderr and "ping" in result.stderr
