{%- set name = cookiecutter.device_name -%}
"""Contract: the command-line client offers every driver method, with
arguments typed by the method's annotations, and reaches each through a
running controller. These tests name no method of the example device:
they must pass unchanged once the driver is yours."""

import collections.abc
import inspect
import socket
import subprocess
import sys
import time
import typing

import numpy
import pytest

from conftest import (NAME, SIPYCO_MISSING, STARTUP_TIMEOUT, free_port,
                      public_methods)
{%- if cookiecutter.ssl %}
from certificates import client_ssl_arguments, controller_ssl_arguments
{%- endif %}

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

from {{ name }}.aqcli_{{ name }} import (
    call_arguments, get_argparser, main, output_lines, progress_bar)
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver

# A command-line word for each annotation the client types, and its value;
# an array is a file (see the array_file fixture).
SAMPLES = {int: ("3", 3), float: ("2.5", 2.5), str: ("text", "text"),
           bool: ("true", True),
           numpy.ndarray: ("samples.npy", "samples.npy")}
SEQUENCES = {list, tuple, collections.abc.Sequence}
# Methods the controller calls itself: not commands.
NOT_COMMANDS = {"close"}
# Another device's controller: a real sipyco server with another target.
OTHER_CONTROLLER = """
import sys
from sipyco.pc_rpc import simple_server_loop
from sipyco.tools import SimpleSSLConfig
class Other:
    def ping(self):
        return True
ssl = SimpleSSLConfig(*sys.argv[3:]) if sys.argv[2:] else None
simple_server_loop({"other_device": Other()}, "127.0.0.1", int(sys.argv[1]),
                   ssl_config=ssl)
"""


def commands():
    return {name: method for name, method in public_methods(Driver).items()
            if name not in NOT_COMMANDS}


def sample(parameter):
    """Command-line words for a parameter, and the value they stand for:
    typed by its annotation, else by its default, else text."""
    kind = parameter.annotation
    if kind is parameter.empty:
        kind = str if parameter.default is parameter.empty \
            else type(parameter.default)
    if (typing.get_origin(kind) or kind) in SEQUENCES:
        item = (typing.get_args(kind) or (str,))[0]
        word, value = SAMPLES.get(item, SAMPLES[str])
        return [word, word], [value, value]
    word, value = SAMPLES.get(kind, SAMPLES[str])
    return [word], value


def sample_command_line(name, method):
    """The command with a value for each parameter without a default, and
    the values the method should receive."""
    words, values = [name], {}
    for parameter in list(inspect.signature(method).parameters.values())[1:]:
        if parameter.default is not parameter.empty or parameter.kind in (
                parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        parameter_words, values[parameter.name] = sample(parameter)
        if parameter.kind is parameter.KEYWORD_ONLY:
            words.append("--" + parameter.name.replace("_", "-"))
        words += parameter_words
    return words, values


def sent(method, words):
    """What the client sends for ``words``, bound to the parameters."""
    positional, keywords = call_arguments(get_argparser().parse_args(words))
    return inspect.signature(method).bind(
        None, *positional, **keywords).arguments


def connection_options(port):
    """Where the client finds the controller{{ ", and its certificates" if cookiecutter.ssl }}."""
    return ["-s", "127.0.0.1", "-p", str(port){{ ", *client_ssl_arguments()" if cookiecutter.ssl }}]


def run_main(monkeypatch, capsys, port, *arguments):
    """aqcli as its console script runs it: (exit code, stdout, stderr)."""
    monkeypatch.setattr("sys.argv", [f"aqcli_{NAME}",
                                     *connection_options(port), *arguments])
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code
    output = capsys.readouterr()
    return code, output.out, output.err


def test_every_driver_method_is_a_command_with_its_summary():
    text = " ".join(get_argparser().format_help().split())
    for name, method in commands().items():
        assert f" {name} " in text
        summary = " ".join(inspect.getdoc(method).split("\n")[0].split())
        assert summary[:30] in text


@pytest.mark.parametrize("name", sorted(commands()))
def test_arguments_are_typed_by_the_annotations(name):
    words, values = sample_command_line(name, commands()[name])
    arguments = sent(commands()[name], words)
    for parameter, value in values.items():
        assert arguments[parameter] == value
        assert type(arguments[parameter]) is type(value)


def test_a_method_added_to_the_driver_is_a_command(monkeypatch, capsys):
    """A defaulted parameter is an --option, left to the driver when not
    given; a parameter named like the client's own options (port, timeout)
    does not change them; a % in a docstring or default is shown as is."""
    class Extended(Driver):
        def tune(self, port: int, levels: list, *, timeout: float = 1.0,
                 unit: str = "%"):
            """Set the output to 50 %, as added by this test."""

    monkeypatch.setattr(f"{NAME}.aqcli_{NAME}.Driver", Extended)
    words = ["-p", "1234", "tune", "7", "a", "b"]
    args = get_argparser().parse_args(words + ["--timeout", "2"])
    assert (args.port, args.timeout) == (1234, 10.0)
    assert sent(Extended.tune, words + ["--timeout", "2"]) == {
        "self": None, "port": 7, "levels": ["a", "b"], "timeout": 2.0}
    assert "timeout" not in sent(Extended.tune, words)
    assert "Set the output to 50 %" in get_argparser().format_help()
    with pytest.raises(SystemExit):
        get_argparser().parse_args(["tune", "--help"])
    assert "str, default: '%'" in capsys.readouterr().out


@pytest.fixture
def array_file(tmp_path, monkeypatch):
    """samples.npy, in the folder the client runs in."""
    monkeypatch.chdir(tmp_path)
    numpy.save(tmp_path / "samples.npy", numpy.arange(4.0))
    return tmp_path / "samples.npy"


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_reaches_the_controller(served, monkeypatch, capsys,
                                              array_file, name):
    """A call that the driver refuses (a value out of its range) still
    reached it: the error is the driver's, in one line. A TypeError would
    be the client calling it wrongly."""
    words, _ = sample_command_line(name, commands()[name])
    code, stdout, stderr = run_main(monkeypatch, capsys, served.port, *words)
    if code != 0:
        [line] = stderr.splitlines()
        assert line.startswith(f"aqcli_{NAME}: error: {name}: "), line
        assert f": {name}: TypeError:" not in line, line


class WithArrays(Driver):
    def load(self, data: numpy.ndarray, gain: float = 1.0):
        """Load samples, as added by this test."""

    def trace(self) -> numpy.ndarray:
        """Return samples, as added by this test."""


@pytest.mark.parametrize("words, message", [
    (["load", "missing.npy"],
     "missing.npy: cannot read it: No such file or directory"),
    (["load", "samples.txt"], "samples.txt: give a .npy or .csv file"),
    (["trace", "-o", "trace.txt"], "trace.txt: give a .npy or .csv file"),
])
def test_a_bad_array_file_is_one_line_naming_it(monkeypatch, capsys,
                                                tmp_path, words, message):
    """Told before the controller is asked: none listens here."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.txt").write_text("1\n")
    monkeypatch.setattr(f"{NAME}.aqcli_{NAME}.Driver", WithArrays)
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), *words)
    assert code == 1
    assert stderr == f"aqcli_{NAME}: error: {message}\n"


def test_an_array_parameter_takes_a_file_and_an_array_result_an_output(
        monkeypatch):
    monkeypatch.setattr(f"{NAME}.aqcli_{NAME}.Driver", WithArrays)
    assert sent(WithArrays.load, ["load", "in.csv", "--gain", "2"]) == {
        "self": None, "data": "in.csv", "gain": 2.0}
    args = get_argparser().parse_args(["trace", "-o", "out.npy"])
    assert getattr(args, "client:output") == "out.npy"
    with pytest.raises(SystemExit):
        get_argparser().parse_args(["load", "in.csv", "-o", "out.npy"])


def test_a_transfer_shows_a_progress_bar_after_half_a_second(capsys):
    with progress_bar("quick") as progress:
        progress(10, 10)
    with progress_bar("slow") as progress:
        progress(1, 10)
        time.sleep(0.6)
        progress(10, 10)
    shown = capsys.readouterr().err
    assert "quick" not in shown
    assert "slow: 100%" in shown


def test_results_are_lines_a_shell_script_reads():
    assert output_lines(None) == []
    assert output_lines("text with spaces") == ["text with spaces"]
    assert output_lines(True) == ["True"]
    assert output_lines(2.5) == ["2.5"]
    assert output_lines([1.5, 2]) == ["1.5", "2"]
    assert output_lines({"a": 1}) == ["a\t1"]


def test_ping_through_the_console_script(served):
    result = subprocess.run(
        [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
         *connection_options(served.port), "ping"],
        capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"


@pytest.mark.parametrize("arguments, message", [
    (["ping", "extra"], "unrecognized arguments: extra"),
    ([], "the following arguments are required: command"),
])
def test_a_wrong_command_line_is_a_usage_error(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit:
        get_argparser().parse_args(arguments)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_controller_is_one_error_line(monkeypatch, capsys):
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "ping")
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(
        f"aqcli_{NAME}: error: cannot reach the controller at ")


@pytest.fixture
def other_controller():
    """The port of another device's controller, once it listens."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", OTHER_CONTROLLER,
                                str(port){{ ", *controller_ssl_arguments()" if cookiecutter.ssl }}],
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except ConnectionRefusedError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the other controller never listened")
                time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.communicate()


def test_another_devices_controller_is_one_error_line(other_controller,
                                                      monkeypatch, capsys):
    code, _, stderr = run_main(monkeypatch, capsys, other_controller, "ping")
    assert code == 1
    assert stderr == (
        f"aqcli_{NAME}: error: the controller at 127.0.0.1:"
        f"{other_controller} serves other_device, not {NAME}: give the "
        f"{NAME} controller's port with -p\n")
