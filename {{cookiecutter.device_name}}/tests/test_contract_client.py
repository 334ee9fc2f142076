{%- set name = cookiecutter.device_name -%}
"""Contract: the command-line client offers every driver method, with
arguments typed by the method's annotations, and reaches each through a
running controller. These tests name no method of the example device:
they must pass unchanged once the driver is yours."""

import collections.abc
import errno
import importlib
import inspect
import io
import os
import socket
import subprocess
import sys
import threading
import time
import typing

import numpy
import pytest

from conftest import (NAME, SIPYCO_MISSING, STARTUP_TIMEOUT, Controller,
                      free_port, public_methods)

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

CLIENT = importlib.import_module(f"{NAME}.aqcli_{NAME}")
get_argparser, main = CLIENT.get_argparser, CLIENT.main
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.ndsp_runtime import bulk
from {{ name }}.ndsp_runtime.client import first_sentence
from {{ name }}.ndsp_runtime.client import (
    call_arguments, output_lines, progress_bar)

# Where the client finds its driver's class: a test gives it another.
CLIENT_DRIVER = f"{NAME}.aqcli_{NAME}.{{ cookiecutter.__driver_class }}"

# A command-line word for each annotation the client types, and its value;
# an array is a file (see the array_file fixture).
SAMPLES = {int: ("3", 3), float: ("2.5", 2.5), str: ("text", "text"),
           bool: ("true", True),
           numpy.ndarray: ("samples.npy", "samples.npy")}
SEQUENCES = {list, tuple, collections.abc.Sequence}
# Another controller: a real sipyco server with the target named first.
OTHER_CONTROLLER = """
import sys
from sipyco.pc_rpc import simple_server_loop
from sipyco.tools import SimpleSSLConfig
class Other:
    def ping(self):
        return True
ssl = SimpleSSLConfig(*sys.argv[4:]) if sys.argv[4:] else None  # --ssl
simple_server_loop({sys.argv[2]: Other()}, "127.0.0.1", int(sys.argv[1]),
                   ssl_config=ssl)
"""


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
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), *words)
    assert code == 1
    assert stderr == f"aqcli_{NAME}: error: {message}\n"


def test_an_array_parameter_takes_a_file_and_an_array_result_an_output(
        monkeypatch):
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    assert sent(WithArrays.load, ["load", "in.csv", "2"]) == {
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
    """other_controller(target): the port of a sipyco controller serving
    ``target`` alone, once it listens (or what ``script=`` serves, given
    the port and ``target`` as its arguments)."""
    processes = []

    def start(target, script=OTHER_CONTROLLER):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-c", script, str(port), target],
            stderr=subprocess.PIPE))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                return port
            except ConnectionRefusedError:
                if processes[-1].poll() is not None \
                        or time.monotonic() > deadline:
                    pytest.fail("the other controller never listened")
                time.sleep(0.05)

    yield start
    for process in processes:
        process.kill()
        process.communicate()


def test_another_devices_controller_is_one_error_line(other_controller,
                                                      monkeypatch, capsys):
    port = other_controller("other_device")
    code, _, stderr = run_main(monkeypatch, capsys, port, "ping")
    assert code == 1
    assert stderr == (
        f"aqcli_{NAME}: error: the controller at 127.0.0.1:"
        f"{port} serves other_device, not {NAME}: give the "
        f"{NAME} controller's port with -p\n")


def test_a_controller_without_the_bulk_target_is_one_error_line(
        other_controller, monkeypatch, capsys, tmp_path):
    """An array command needs <name>_bulk too: an older controller."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    port = other_controller(NAME)
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert code == 1
    assert stderr == (
        f"aqcli_{NAME}: error: cannot reach the controller at 127.0.0.1:"
        f"{port}: it serves {NAME}: no target for arrays (its driver has "
        "no method that takes or returns one)\n")
    assert os.listdir() == []


# A controller whose bulk target lies about the array it returns: its
# (length, dtype) for call(), then what fetch() returns, as pyon.
LYING_BULK = """
import sys
from sipyco import pyon
from sipyco.pc_rpc import simple_server_loop
from sipyco.tools import SimpleSSLConfig
reply, chunk = pyon.decode(sys.argv[2])
class Liar:
    def call(self, method, args, kwargs):
        return reply
    def fetch(self, start, stop):
        return chunk
ssl = SimpleSSLConfig(*sys.argv[4:]) if sys.argv[4:] else None  # --ssl
simple_server_loop({"%s": Liar(), "%s": Liar()}, "127.0.0.1",
                   int(sys.argv[1]), ssl_config=ssl)
""" % (NAME, NAME + bulk.SUFFIX)
LIES = {
    "negative-length": ((-1, "<f8"), numpy.zeros(0)),
    "length-as-text": (("2", "<f8"), numpy.zeros(2)),
    "length-as-bool": ((True, "<f8"), numpy.zeros(1)),
    "object-dtype": ((2, "|O"), [None, None]),
    "unknown-dtype": ((2, "<x9"), numpy.zeros(2)),
    "short-chunk": ((4, "<f8"), numpy.zeros(1)),
    "long-chunk": ((1, "<f8"), numpy.zeros(3)),
    "chunk-of-another-dtype": ((2, "<f8"), numpy.array([1j, 2j])),
    "chunk-as-a-list": ((2, "<f8"), [1.0, 2.0]),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_download_checks_what_the_controller_sends(other_controller, lie):
    from sipyco import pyon

    port = other_controller(pyon.encode(LIES[lie]), script=LYING_BULK)
    with pytest.raises((TypeError, ValueError), match="^the controller "):
        bulk.download("127.0.0.1", port, "trace",
                      ssl_config=None)


# --- Output files: never replaced unless asked, written whole or not at all

TRACE = numpy.arange(5.0)


@pytest.fixture
def downloads(monkeypatch, tmp_path):
    """The client of a driver with array methods, run in tmp_path: what
    the controller would return is TRACE (the example's controller has no
    such method). The list of downloads made."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    made = []

    async def download(*arguments, **options):
        made.append((arguments, options))
        return TRACE.copy()

    monkeypatch.setattr(f"{NAME}.ndsp_runtime.bulk.download_async",
                        download)
    return made


def read_back(path):
    return (numpy.load(path, allow_pickle=False)
            if str(path).lower().endswith(".npy")
            else numpy.loadtxt(path, delimiter=","))


@pytest.mark.parametrize("output", ["trace.npy", "TRACE.NPY", "trace.Csv"])
def test_an_output_file_has_the_name_given(served, downloads, monkeypatch,
                                           capsys, output):
    code, _, stderr = run_main(monkeypatch, capsys, served.port, "trace",
                               "-o", output)
    assert (code, stderr) == (0, "")
    assert os.listdir() == [output]  # no suffix added, no file left over
    assert numpy.array_equal(read_back(output), TRACE)


def test_an_existing_file_is_replaced_only_with_f(served, downloads,
                                                  monkeypatch, capsys):
    with open("trace.npy", "w") as existing:
        existing.write("precious")
    code, _, stderr = run_main(monkeypatch, capsys, served.port, "trace",
                               "-o", "trace.npy")
    assert code == 1
    assert stderr == (f"aqcli_{NAME}: error: trace.npy: exists: give -f to "
                      "replace it\n")
    assert downloads == []  # told before the download
    with open("trace.npy") as kept:
        assert kept.read() == "precious"
    code, _, stderr = run_main(monkeypatch, capsys, served.port, "trace",
                               "-o", "trace.npy", "-f")
    assert (code, stderr) == (0, "")
    assert numpy.array_equal(read_back("trace.npy"), TRACE)
    assert os.listdir() == ["trace.npy"]


@pytest.mark.parametrize("failure", [ConnectionError("cut off"),
                                     KeyboardInterrupt()],
                         ids=["cut-off", "ctrl-c"])
def test_a_download_that_fails_leaves_the_existing_file(
        served, downloads, monkeypatch, capsys, failure):
    with open("trace.npy", "w") as existing:
        existing.write("precious")

    async def download(*arguments, **options):
        raise failure

    monkeypatch.setattr(f"{NAME}.ndsp_runtime.bulk.download_async",
                        download)
    if isinstance(failure, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            run_main(monkeypatch, capsys, served.port, "trace", "-o",
                     "trace.npy", "-f")
    else:
        code, _, stderr = run_main(monkeypatch, capsys, served.port,
                                   "trace", "-o", "trace.npy", "-f")
        assert code == 1
        assert stderr == (f"aqcli_{NAME}: error: trace: ConnectionError: "
                          "cut off\n")
    assert os.listdir() == ["trace.npy"]  # the temporary file is gone
    with open("trace.npy") as kept:
        assert kept.read() == "precious"


def test_a_write_that_fails_midway_leaves_the_existing_file(
        served, downloads, monkeypatch, capsys):
    with open("trace.npy", "w") as existing:
        existing.write("precious")

    def full_disk(file, array, **options):
        file.write(b"half an arr")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(numpy, "save", full_disk)
    code, _, stderr = run_main(monkeypatch, capsys, served.port, "trace",
                               "-o", "trace.npy", "-f")
    assert code == 1
    assert stderr == (f"aqcli_{NAME}: error: trace.npy: cannot write it: "
                      "No space left on device\n")
    assert os.listdir() == ["trace.npy"]
    with open("trace.npy") as kept:
        assert kept.read() == "precious"


def test_an_output_is_on_disk_whole_before_it_has_its_name(
        served, downloads, monkeypatch, capsys):
    synced = []
    fsync = os.fsync

    def recording_fsync(descriptor):
        fsync(descriptor)
        synced.append((os.fstat(descriptor).st_size,
                       os.path.exists("trace.npy")))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    code, _, stderr = run_main(monkeypatch, capsys, served.port, "trace",
                               "-o", "trace.npy")
    assert (code, stderr) == (0, "")
    assert synced == [(os.path.getsize("trace.npy"), False)]


@pytest.mark.parametrize("folder, problem", [
    ("missing", "No such file or directory"),
    ("a_file", "Not a directory"),
])
def test_an_unwritable_folder_is_told_before_connecting(
        downloads, monkeypatch, capsys, folder, problem):
    """None listens here: the file's error comes first."""
    with open("a_file", "w"):
        pass
    output = os.path.join(folder, "trace.npy")
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "trace",
                               "-o", output)
    assert code == 1
    assert stderr == (f"aqcli_{NAME}: error: {output}: cannot write it: "
                      f"{problem}\n")
    assert downloads == [] and os.listdir() == ["a_file"]


class WithNamesLikeTheClients(Driver):
    def record(self, *, o: int = 0, f: bool = False, output: str = "",
               overwrite: bool = False) -> numpy.ndarray:
        """Return samples, as added by this test."""


def test_no_parameter_name_clashes_with_the_output_options(monkeypatch):
    """The client's -o and -f are short options: a parameter is --name."""
    monkeypatch.setattr(CLIENT_DRIVER,
                        WithNamesLikeTheClients)
    words = ["record", "-o", "out.npy", "-f", "--o", "1", "--f", "yes",
             "--output", "x", "--overwrite", "no"]
    args = get_argparser().parse_args(words)
    assert getattr(args, "client:output") == "out.npy"
    assert getattr(args, "client:overwrite") is True
    assert sent(WithNamesLikeTheClients.record, words) == {
        "self": None, "o": 1, "f": True, "output": "x", "overwrite": False}


def test_a_parameter_the_client_cannot_offer_is_one_error_line(
        monkeypatch, capsys):
    class WithHelp(Driver):
        def show(self, *, help: str = ""):
            """Show something, as added by this test."""

    monkeypatch.setattr(CLIENT_DRIVER, WithHelp)
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "ping")
    assert code == 1
    assert stderr == (f"aqcli_{NAME}: error: the driver's show() cannot be "
                      "a command: its parameter help would be --help, the "
                      "client's own option: rename it\n")


# --- Input files: told in one line, before connecting

def npy_bytes(array):
    buffer = io.BytesIO()
    numpy.save(buffer, array)
    return buffer.getvalue()


def write_npz_named_npy(path):
    numpy.savez(path.with_suffix(".npz"), a=TRACE)
    path.with_suffix(".npz").rename(path)


INPUT_FILES = {
    "empty.npy": (lambda path: path.write_bytes(b""), "is empty"),
    "empty.csv": (lambda path: path.write_bytes(b""), "is empty"),
    "blank.csv": (lambda path: path.write_text("\n\n"),
                  "holds no samples"),
    "none.npy": (lambda path: numpy.save(path, numpy.zeros(0)),
                 "holds no samples"),
    "archive.npy": (write_npz_named_npy,
                    "is an .npz archive, not a .npy file of one array"),
    "text.npy": (lambda path: path.write_text("1,2,3\n"),
                 "is not a .npy file"),
    "truncated.npy": (lambda path: path.write_bytes(
        npy_bytes(numpy.arange(100.0))[:200]), "cannot read it: "),
    "words.npy": (lambda path: numpy.save(path, numpy.array(["a", "b"])),
                  "holds <U1 values, not numbers"),
    "objects.npy": (lambda path: numpy.save(
        path, numpy.array([1, None], dtype=object)), "cannot read it: "),
    "square.npy": (lambda path: numpy.save(path, numpy.zeros((2, 2))),
                   "holds a 2-dimensional array, not a list of samples"),
    "columns.csv": (lambda path: path.write_text("1,2\n3,4\n"),
                    "holds a 2-dimensional array, not a list of samples"),
}


@pytest.mark.parametrize("name", sorted(INPUT_FILES))
def test_an_unusable_input_file_is_one_line_before_connecting(
        monkeypatch, capsys, tmp_path, name):
    """None listens here: the file's error comes first."""
    write, message = INPUT_FILES[name]
    write(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "load",
                               name)
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(f"aqcli_{NAME}: error: {name}: {message}"), line


# --- Connection failures: one line naming the address, on both paths

def hang_up(connection):
    """Read what the client sends first, then close."""
    connection.settimeout(STARTUP_TIMEOUT)
    connection.recv(4096)
    connection.close()


# What answers on a port where no controller listens, to each connection.
IMPOSTORS = {
    "binary": lambda connection: connection.sendall(b"\x89\x00 {[\n"),
    "json": lambda connection: connection.sendall(b"[1, 2, 3]\n"),
    "silent": lambda connection: None,
    "closes-at-once": lambda connection: connection.close(),
    "hangs-up": hang_up,
    # sipyco's identification without pyon_v2: its next reply would be
    # decoded with eval.
    "no-pyon-v2": lambda connection: connection.sendall(
        b'{"targets": ["%s", "%s"], "description": null}\n'
        % (NAME.encode(), (NAME + bulk.SUFFIX).encode())),
}


@pytest.fixture(params=sorted(IMPOSTORS))
def impostor(request):
    """The port of a loopback server that is no sipyco controller."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop, connections = threading.Event(), []

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connections.append(connection)
            IMPOSTORS[request.param](connection)

    thread = threading.Thread(target=serve)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()
    for connection in connections:
        connection.close()


def assert_unreachable(code, stderr, port):
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(f"aqcli_{NAME}: error: cannot reach the "
                           f"controller at 127.0.0.1:{port}: "), line


def test_a_server_that_is_no_controller_is_one_error_line(
        impostor, monkeypatch, capsys):
    code, _, stderr = run_main(monkeypatch, capsys, impostor, "--timeout",
                               "0.5", "ping")
    assert_unreachable(code, stderr, impostor)


def test_bulk_tells_a_server_that_is_no_controller(impostor):
    with pytest.raises(bulk.ControllerUnreachable,
                       match=f"^127.0.0.1:{impostor}: "):
        bulk.download("127.0.0.1", impostor, "trace", timeout=0.5,
                      ssl_config=None)
    with pytest.raises(bulk.ControllerUnreachable,
                       match=f"^127.0.0.1:{impostor}: "):
        bulk.upload("127.0.0.1", impostor, "load", TRACE, timeout=0.5,
                    ssl_config=None)


def test_an_array_command_without_a_controller_is_one_error_line(
        monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(CLIENT_DRIVER, WithArrays)
    port = free_port()
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert_unreachable(code, stderr, port)
    assert os.listdir() == []


def test_the_traceback_is_shown_with_v_only():
    command = [sys.executable, "-m", f"{NAME}.aqcli_{NAME}",
               *connection_options(free_port()), "ping"]
    quiet = subprocess.run(command, capture_output=True, text=True,
                           timeout=STARTUP_TIMEOUT)
    verbose = subprocess.run(command[:3] + ["-v"] + command[3:],
                             capture_output=True, text=True,
                             timeout=STARTUP_TIMEOUT)
    assert quiet.returncode == verbose.returncode == 1
    assert len(quiet.stderr.splitlines()) == 1
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == quiet.stderr.strip()


@pytest.fixture(scope="module")
def ssl_served():
    """A simulation that requires SSL."""
    controller = Controller("--simulation", ssl=True)
    controller.client().close_rpc()  # it listens
    yield controller
    code, _, stderr = controller.terminate_over_rpc()
    assert code == 0, stderr


@pytest.mark.parametrize("client", [None, "stranger"],
                         ids=["no-certificate", "untrusted-certificate"])
def test_a_refused_ssl_handshake_is_one_error_line(ssl_served, monkeypatch,
                                                   capsys, client):
    from certificates import client_ssl_arguments

    port = ssl_served.port
    ssl_arguments = client_ssl_arguments(client) if client else []
    code, _, stderr = run_main(
        monkeypatch, capsys, port, "ping",
        connection=["-s", "127.0.0.1", "-p", str(port), *ssl_arguments])
    assert_unreachable(code, stderr, port)


def test_ssl_with_the_trusted_certificate(ssl_served, monkeypatch, capsys):
    from certificates import client_ssl_arguments

    port = ssl_served.port
    assert run_main(monkeypatch, capsys, port, "ping", connection=[
        "-s", "127.0.0.1", "-p", str(port), *client_ssl_arguments()]) == \
        (0, "True\n", "")


@pytest.mark.parametrize("client", [None, "stranger"],
                         ids=["no-certificate", "untrusted-certificate"])
def test_bulk_tells_a_refused_ssl_handshake(ssl_served, client):
    from certificates import client_ssl_config

    with pytest.raises(bulk.ControllerUnreachable,
                       match=f"^127.0.0.1:{ssl_served.port}: "):
        bulk.download("127.0.0.1", ssl_served.port, "ping",
                      ssl_config=client and client_ssl_config(client))


def test_missing_ssl_files_are_one_error_line(monkeypatch, capsys,
                                              tmp_path):
    missing = str(tmp_path / "missing.pem")
    code, _, stderr = run_main(
        monkeypatch, capsys, None, "ping",
        connection=["-s", "127.0.0.1", "-p", str(free_port()), "--ssl",
                    missing, missing, missing])
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(
        f"aqcli_{NAME}: error: cannot use the --ssl files: "), line
