"""The generic runtime's client (ndsp_runtime.client and .bulk), in this
process, against controllers served here by the real sipyco: the files it
reads and writes (told in one line before connecting; an output never
replaced unless asked, written whole or not at all), and every way a
connection fails (one line naming the address, on both the RPC and the
bulk paths). Each generated project's test_contract_client.py checks its
own driver's commands through its own controller."""

import asyncio
import errno
import io
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import HAS_SIPYCO, TEMPLATE

RUNTIME_PARENT = TEMPLATE / "{{cookiecutter.device_name}}" / \
    "{{cookiecutter.device_name}}"
sys.path.insert(0, str(RUNTIME_PARENT))

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the client is built on sipyco's "
                "Client, and these tests serve it with sipyco's Server",
                allow_module_level=True)

import numpy  # noqa: E402
from sipyco.pc_rpc import Server  # noqa: E402
from sipyco.tools import SimpleSSLConfig  # noqa: E402

from ndsp_runtime import bulk, client  # noqa: E402
from installed import free_port  # noqa: E402

NAME = "hello"
PROG = f"aqcli_{NAME}"
TIMEOUT = 15.0
TRACE = numpy.arange(5.0)


class Device:
    """A driver without arrays."""

    def ping(self) -> bool:
        """Whether it answers."""
        return True

    def close(self):
        """The controller's."""


class WithArrays(Device):
    def load(self, data: numpy.ndarray, gain: float = 1.0):
        """Load samples."""

    def trace(self) -> numpy.ndarray:
        """Return samples."""
        return TRACE


class Served:
    """sipyco's Server on a loopback port, in a thread of its own."""

    def __init__(self, targets, ssl_config=None):
        self.loop = asyncio.new_event_loop()
        self.server = Server(targets)
        self.loop.run_until_complete(
            self.server.start("127.0.0.1", 0, ssl_config))
        self.port = self.server.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever)
        self.thread.start()

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.stop(),
                                         self.loop).result(TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture
def serve():
    """serve(targets, ssl_config=None): the port of a server of them."""
    started = []

    def serve(targets, ssl_config=None):
        started.append(Served(targets, ssl_config))
        return started[-1].port

    yield serve
    for served in started:
        served.stop()


def run_main(monkeypatch, capsys, port, *words, driver=WithArrays,
             connection=None):
    """aqcli as its console script runs it, for a driver of class
    ``driver``: (exit code, stdout, stderr)."""
    if connection is None:
        connection = ["-s", "127.0.0.1", "-p", str(port)]
    monkeypatch.setattr(sys, "argv", [PROG, *connection, *words])
    try:
        client.main(lambda: client.argparser(driver, NAME, "Hello", 1234))
        code = 0
    except SystemExit as exit:
        code = exit.code
    output = capsys.readouterr()
    return code, output.out, output.err


def parse(words, driver=WithArrays):
    return client.argparser(driver, NAME, "Hello", 1234).parse_args(words)


# --- The command line ----------------------------------------------------

@pytest.mark.parametrize("words, message", [
    (["ping", "extra"], "unrecognized arguments: extra"),
    ([], "the following arguments are required: command"),
])
def test_a_wrong_command_line_is_a_usage_error(capsys, words, message):
    with pytest.raises(SystemExit) as exit:
        parse(words)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_an_array_parameter_takes_a_file_and_an_array_result_an_output():
    args = parse(["load", "in.csv", "2"])
    assert client.call_arguments(args) == (["in.csv", 2.0], {})
    args = parse(["trace", "-o", "out.npy"])
    assert getattr(args, "client:output") == "out.npy"
    with pytest.raises(SystemExit):
        parse(["load", "in.csv", "-o", "out.npy"])


class WithNamesLikeTheClients(Device):
    def record(self, *, o: int = 0, f: bool = False, output: str = "",
               overwrite: bool = False) -> numpy.ndarray:
        """Return samples."""


def test_no_parameter_name_clashes_with_the_output_options():
    """The client's -o and -f are short options: a parameter is --name."""
    args = parse(["record", "-o", "out.npy", "-f", "--o", "1", "--f", "yes",
                  "--output", "x", "--overwrite", "no"],
                 driver=WithNamesLikeTheClients)
    assert getattr(args, "client:output") == "out.npy"
    assert getattr(args, "client:overwrite") is True
    assert client.call_arguments(args) == (
        [], {"o": 1, "f": True, "output": "x", "overwrite": False})


class WithHelp(Device):
    def show(self, *, help: str = ""):
        """Show something."""


def test_a_parameter_the_client_cannot_offer_is_one_error_line(
        monkeypatch, capsys):
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "ping",
                               driver=WithHelp)
    assert code == 1
    assert stderr == (f"{PROG}: error: the driver's show() cannot be a "
                      "command: its parameter help would be --help, the "
                      "client's own option: rename it\n")


def test_results_are_lines_a_shell_script_reads():
    assert client.output_lines(None) == []
    assert client.output_lines("text with spaces") == ["text with spaces"]
    assert client.output_lines(True) == ["True"]
    assert client.output_lines(2.5) == ["2.5"]
    assert client.output_lines(numpy.float64(2.5)) == ["2.5"]
    assert client.output_lines([1.5, 2]) == ["1.5", "2"]
    assert client.output_lines({"a": 1}) == ["a\t1"]


def test_a_transfer_shows_a_progress_bar_after_half_a_second(capsys):
    with client.progress_bar("quick") as progress:
        progress(10, 10)
    with client.progress_bar("slow") as progress:
        progress(1, 10)
        time.sleep(0.6)
        progress(10, 10)
    shown = capsys.readouterr().err
    assert "quick" not in shown
    assert "slow: 100%" in shown


# --- Input files: told in one line, before connecting ----------------------

def npy_bytes(array):
    buffer = io.BytesIO()
    numpy.save(buffer, array)
    return buffer.getvalue()


def write_npz_named_npy(path):
    numpy.savez(path.with_suffix(".npz"), a=TRACE)
    path.with_suffix(".npz").rename(path)


INPUT_FILES = {
    "missing.npy": (lambda path: None,
                    "cannot read it: No such file or directory"),
    "samples.txt": (lambda path: path.write_text("1\n"),
                    "give a .npy or .csv file"),
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
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), "load",
                               name)
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(f"{PROG}: error: {name}: {message}"), line


# --- Output files: never replaced unless asked, written whole or not at all

@pytest.fixture
def downloads(monkeypatch, tmp_path, serve):
    """In tmp_path, a controller of the target alone (no bulk target):
    what bulk would download is TRACE. Its port, and the downloads made."""
    monkeypatch.chdir(tmp_path)
    made = []

    async def download(*arguments, **options):
        made.append((arguments, options))
        return TRACE.copy()

    monkeypatch.setattr(bulk, "download_async", download)
    return serve({NAME: WithArrays()}), made


def read_back(path):
    return (numpy.load(path, allow_pickle=False)
            if str(path).lower().endswith(".npy")
            else numpy.loadtxt(path, delimiter=","))


@pytest.mark.parametrize("output", ["trace.npy", "TRACE.NPY", "trace.Csv"])
def test_an_output_file_has_the_name_given(downloads, monkeypatch, capsys,
                                           output):
    port, made = downloads
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               output)
    assert (code, stderr) == (0, "")
    assert os.listdir() == [output]  # no suffix added, no file left over
    assert numpy.array_equal(read_back(output), TRACE)
    assert len(made) == 1


@pytest.mark.parametrize("words, message", [
    (["trace", "-o", "trace.txt"], "trace.txt: give a .npy or .csv file"),
    (["trace", "-o", "missing/trace.npy"],
     "missing/trace.npy: cannot write it: No such file or directory"),
    (["trace", "-o", "a_file/trace.npy"],
     "a_file/trace.npy: cannot write it: Not a directory"),
])
def test_an_unusable_output_is_told_before_connecting(
        downloads, monkeypatch, capsys, words, message):
    """None listens on the port given: the file's error comes first."""
    _, made = downloads
    with open("a_file", "w"):
        pass
    code, _, stderr = run_main(monkeypatch, capsys, free_port(), *words)
    assert (code, stderr) == (1, f"{PROG}: error: {message}\n")
    assert made == [] and os.listdir() == ["a_file"]


def test_an_existing_file_is_replaced_only_with_f(downloads, monkeypatch,
                                                  capsys):
    port, made = downloads
    pathlib.Path("trace.npy").write_text("precious")
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert code == 1
    assert stderr == (f"{PROG}: error: trace.npy: exists: give -f to "
                      "replace it\n")
    assert made == []  # told before the download
    assert pathlib.Path("trace.npy").read_text() == "precious"
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy", "-f")
    assert (code, stderr) == (0, "")
    assert numpy.array_equal(read_back("trace.npy"), TRACE)
    assert os.listdir() == ["trace.npy"]


@pytest.mark.parametrize("failure", [ConnectionError("cut off"),
                                     KeyboardInterrupt()],
                         ids=["cut-off", "ctrl-c"])
def test_a_download_that_fails_leaves_the_existing_file(
        downloads, monkeypatch, capsys, failure):
    port, _ = downloads
    pathlib.Path("trace.npy").write_text("precious")

    async def download(*arguments, **options):
        raise failure

    monkeypatch.setattr(bulk, "download_async", download)
    words = ("trace", "-o", "trace.npy", "-f")
    if isinstance(failure, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            run_main(monkeypatch, capsys, port, *words)
    else:
        code, _, stderr = run_main(monkeypatch, capsys, port, *words)
        assert (code, stderr) == (
            1, f"{PROG}: error: trace: ConnectionError: cut off\n")
    assert os.listdir() == ["trace.npy"]  # the temporary file is gone
    assert pathlib.Path("trace.npy").read_text() == "precious"


def test_a_write_that_fails_midway_leaves_the_existing_file(
        downloads, monkeypatch, capsys):
    port, _ = downloads
    pathlib.Path("trace.npy").write_text("precious")

    def full_disk(file, array, **options):
        file.write(b"half an arr")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(numpy, "save", full_disk)
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy", "-f")
    assert (code, stderr) == (1, f"{PROG}: error: trace.npy: cannot write "
                                 "it: No space left on device\n")
    assert os.listdir() == ["trace.npy"]
    assert pathlib.Path("trace.npy").read_text() == "precious"


def test_an_output_is_on_disk_whole_before_it_has_its_name(
        downloads, monkeypatch, capsys):
    port, _ = downloads
    synced = []
    fsync = os.fsync

    def recording_fsync(descriptor):
        fsync(descriptor)
        synced.append((os.fstat(descriptor).st_size,
                       os.path.exists("trace.npy")))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert (code, stderr) == (0, "")
    assert synced == [(os.path.getsize("trace.npy"), False)]


# --- Controllers: another device's, one without arrays, one that lies ----

def test_an_unreachable_controller_is_one_error_line(monkeypatch, capsys):
    port = free_port()
    code, _, stderr = run_main(monkeypatch, capsys, port, "ping")
    assert_unreachable(code, stderr, port)


def test_another_devices_controller_is_one_error_line(serve, monkeypatch,
                                                      capsys):
    port = serve({"other_device": Device()})
    code, _, stderr = run_main(monkeypatch, capsys, port, "ping")
    assert (code, stderr) == (1, (
        f"{PROG}: error: the controller at 127.0.0.1:{port} serves "
        f"other_device, not {NAME}: give the {NAME} controller's port "
        "with -p\n"))


def test_a_controller_without_the_bulk_target_is_one_error_line(
        serve, monkeypatch, capsys, tmp_path):
    """An array command needs <name>_bulk too: an older controller."""
    monkeypatch.chdir(tmp_path)
    port = serve({NAME: Device()})
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert (code, stderr) == (1, (
        f"{PROG}: error: cannot reach the controller at 127.0.0.1:{port}: "
        f"it serves {NAME}: no target for arrays (its driver has no method "
        "that takes or returns one)\n"))
    assert os.listdir() == []


class Liar:
    """A bulk target that lies about the array it returns: its (length,
    dtype) from call(), then what fetch() returns."""

    def __init__(self, reply, chunk):
        self.reply, self.chunk = reply, chunk

    def call(self, method, args, kwargs):
        return self.reply

    def fetch(self, start, stop):
        return self.chunk


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
def test_a_download_checks_what_the_controller_sends(serve, lie):
    port = serve({NAME: Device(), NAME + bulk.SUFFIX: Liar(*LIES[lie])})
    with pytest.raises((TypeError, ValueError), match="^the controller "):
        bulk.download("127.0.0.1", port, "trace", ssl_config=None)


# --- Servers that are no controller: one line, on both paths --------------

def hang_up(connection):
    """Read what the client sends first, then close."""
    connection.settimeout(TIMEOUT)
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
    assert line.startswith(f"{PROG}: error: cannot reach the controller at "
                           f"127.0.0.1:{port}: "), line


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
    port = free_port()
    code, _, stderr = run_main(monkeypatch, capsys, port, "trace", "-o",
                               "trace.npy")
    assert_unreachable(code, stderr, port)
    assert os.listdir() == []


# A client of Device, as a console script: the runtime from the template.
CONSOLE_SCRIPT = f"""
import sys
sys.path.insert(0, {str(RUNTIME_PARENT)!r})
sys.argv[0] = {PROG!r}
from ndsp_runtime import client
class Device:
    def ping(self):
        '''Whether it answers.'''
client.main(lambda: client.argparser(Device, {NAME!r}, "Hello", 1234))
"""


def test_the_traceback_is_shown_with_v_only():
    command = [sys.executable, "-c", CONSOLE_SCRIPT, "-s", "127.0.0.1",
               "-p", str(free_port()), "ping"]
    quiet = subprocess.run(command, capture_output=True, text=True,
                           timeout=TIMEOUT)
    verbose = subprocess.run(command[:3] + ["-v"] + command[3:],
                             capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert quiet.returncode == verbose.returncode == 1
    assert len(quiet.stderr.splitlines()) == 1, quiet.stderr
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == quiet.stderr.strip()


# --- SSL: a refused handshake is one line; missing files too --------------

@pytest.fixture
def ssl_port(serve, certificates):
    """A controller that requires the client's certificate."""
    return serve({NAME: WithArrays(), NAME + bulk.SUFFIX: Liar(None, None)},
                 SimpleSSLConfig(*certificates["controller"],
                                 certificates["client"][0]))


def ssl_connection(port, certificates, who):
    """-s, -p and, but for ``who`` None, --ssl as ``who``."""
    words = ["-s", "127.0.0.1", "-p", str(port)]
    if who is not None:
        words += ["--ssl", *certificates[who],
                  certificates["controller"][0]]
    return words


@pytest.mark.parametrize("who", [None, "stranger"],
                         ids=["no-certificate", "untrusted-certificate"])
def test_a_refused_ssl_handshake_is_one_error_line(
        ssl_port, certificates, monkeypatch, capsys, who):
    code, _, stderr = run_main(
        monkeypatch, capsys, ssl_port, "ping",
        connection=ssl_connection(ssl_port, certificates, who))
    assert_unreachable(code, stderr, ssl_port)


def test_ssl_with_the_trusted_certificate(ssl_port, certificates,
                                          monkeypatch, capsys):
    assert run_main(monkeypatch, capsys, ssl_port, "ping",
                    connection=ssl_connection(
                        ssl_port, certificates, "client")) == \
        (0, "True\n", "")


@pytest.mark.parametrize("who", [None, "stranger"],
                         ids=["no-certificate", "untrusted-certificate"])
def test_bulk_tells_a_refused_ssl_handshake(ssl_port, certificates, who):
    ssl_config = who and SimpleSSLConfig(*certificates[who],
                                         certificates["controller"][0])
    with pytest.raises(bulk.ControllerUnreachable,
                       match=f"^127.0.0.1:{ssl_port}: "):
        bulk.download("127.0.0.1", ssl_port, "trace",
                      target=NAME + bulk.SUFFIX, ssl_config=ssl_config)


def test_missing_ssl_files_are_one_error_line(monkeypatch, capsys,
                                              tmp_path):
    missing = str(tmp_path / "missing.pem")
    code, _, stderr = run_main(
        monkeypatch, capsys, None, "ping",
        connection=["-s", "127.0.0.1", "-p", str(free_port()), "--ssl",
                    missing, missing, missing])
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(f"{PROG}: error: cannot use the --ssl files: "), \
        line
