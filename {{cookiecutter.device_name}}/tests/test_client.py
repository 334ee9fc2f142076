{%- set name = cookiecutter.device_name -%}
"""The command-line client against a running controller."""

import inspect
import subprocess
import sys

import pytest

from conftest import NAME, SIPYCO_MISSING, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

from {{ name }}.aqcli_{{ name }} import (
    get_argparser)
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver


def run_client(port, *arguments):
    return subprocess.run(
        [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
         "-s", "127.0.0.1", "-p", str(port), *arguments],
        capture_output=True, text=True, timeout=30)


def test_every_driver_method_is_a_command():
    text = " ".join(get_argparser().format_help().split())
    for name, method in inspect.getmembers(Driver, inspect.isfunction):
        if not name.startswith("_") and name != "close":
            assert name in text
            summary = inspect.getdoc(method).split("\n")[0]
            assert summary[:30] in text


def test_ping_through_the_client(simulation):
    simulation.client().close_rpc()
    result = run_client(simulation.port, "ping")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"
    code, _, _ = simulation.terminate_over_rpc()
    assert code == 0


@pytest.mark.parametrize("arguments, message", [
    (["ping", "extra"], "unrecognized arguments: extra"),
    ([], "the following arguments are required: command"),
])
def test_a_wrong_command_line_is_a_usage_error(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit:
        get_argparser().parse_args(arguments)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_unreachable_controller_gives_one_error_line():
    result = run_client(free_port(), "ping")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"aqcli_{NAME}: error: cannot reach the controller at ")
