{%- set name = cookiecutter.device_name -%}
"""Contract: the command-line client offers every driver method, with
arguments typed by the method's annotations, and reaches each through a
running controller, over SSL too. These tests name no method of the
example device: they must pass unchanged once the driver is yours. (How
the client reads and writes array files, and tells each way a connection
fails, is the generic runtime's, tested with it.)"""

import collections.abc
import importlib
import inspect
import subprocess
import sys
import typing

import numpy
import pytest

from conftest import NAME, SIPYCO_MISSING, STARTUP_TIMEOUT, public_methods

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

CLIENT = importlib.import_module(f"{NAME}.aqcli_{NAME}")
get_argparser, main = CLIENT.get_argparser, CLIENT.main
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.ndsp_runtime.client import call_arguments
from {{ name }}.ndsp_runtime.client import first_sentence

# Where the client finds its driver's class: a test gives it another.
CLIENT_DRIVER = f"{NAME}.aqcli_{NAME}.{{ cookiecutter.__driver_class }}"

# A command-line word for each annotation the client types, and its value;
# an array is a file (see the array_file fixture).
SAMPLES = {int: ("3", 3), float: ("2.5", 2.5), str: ("text", "text"),
           bool: ("true", True),
           numpy.ndarray: ("samples.npy", "samples.npy")}
SEQUENCES = {list, tuple, collections.abc.Sequence}


def commands():
    return public_methods(Driver)


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
    """Where the client finds the controller."""
    return ["-s", "127.0.0.1", "-p", str(port)]


def run_main(monkeypatch, capsys, port, *arguments, connection=None):
    """aqcli as its console script runs it: (exit code, stdout, stderr)."""
    if connection is None:
        connection = connection_options(port)
    monkeypatch.setattr("sys.argv", [f"aqcli_{NAME}", *connection,
                                     *arguments])
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
        # What the help shows: the first sentence, as plain text.
        summary = first_sentence(inspect.getdoc(method))
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

    monkeypatch.setattr(CLIENT_DRIVER, Extended)
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


def test_ping_through_the_console_script(served):
    result = subprocess.run(
        [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
         *connection_options(served.port), "ping"],
        capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"


def test_ssl_with_the_trusted_certificate(ssl_served, monkeypatch, capsys):
    """--ssl on both ends: the client's certificate, which the controller
    trusts (tests/test_contract_ssl.py: the ones it refuses)."""
    from certificates import client_ssl_arguments

    port = ssl_served.port
    assert run_main(monkeypatch, capsys, port, "ping", connection=[
        "-s", "127.0.0.1", "-p", str(port), *client_ssl_arguments()]) == \
        (0, "True\n", "")
