"""Large arrays on the binary channel, against their limits, in one run.

For 1,000,000 and 10,000,000 float64 samples, without and with --ssl:
raw loopback bytes from one Python socket to another, in another process
(a connection per transfer, TLS handshake included under --ssl: the
limit), a generated
controller's binary channel up and down (bulk.upload and bulk.download,
RPC connection, offer and commit included), the chunked pyon path, and a
plain sipyco Client; then aqcli_hello's upload of a .npy file and its
download with -o, against the client's start-up plus the raw transfer
plus numpy's reading or writing of the file. The driver's methods only
keep and return the array. Needs sipyco, numpy and the openssl command;
run from the repository:

    python3 bench/channel.py [--quick]
"""

import argparse
import pathlib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

from benchmark import TEMPLATE, free_port, median_seconds

SIZES = [1_000_000, 10_000_000]
# The channel within this factor of raw loopback bytes, both ways; at
# least this fast without TLS.
CHANNEL_FACTOR = 2.0
CHANNEL_MB_PER_S = 400
# aqcli within this factor of its start-up, the raw transfer and the file.
CLIENT_FACTOR = 2.0
KEEP_METHODS = '''

    def keep(self, data: numpy.ndarray):
        """Keep ``data`` (the benchmark's upload)."""
        self._kept = data

    def kept(self) -> numpy.ndarray:
        """What keep() kept (the benchmark's download)."""
        return self._kept
'''


def generated_project(folder):
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o",
         str(folder), str(TEMPLATE), "include_client=yes", "run_checks=no"],
        check=True, capture_output=True)
    project = folder / "hello"
    driver = project / "hello" / "driver.py"
    driver.write_text(driver.read_text().rstrip("\n") + KEEP_METHODS)
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(project / "hello")], check=True)
    return project


def certificates(folder):
    """{name: (certificate, key)} for the controller and a client."""
    curve = folder / "p-256.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-out",
                    str(curve)], check=True, capture_output=True)
    made = {}
    for name in ("controller", "client"):
        made[name] = (str(folder / f"{name}.pem"), str(folder / f"{name}.key"))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", f"ec:{curve}", "-nodes",
             "-days", "2", "-subj", f"/CN={name}", "-keyout", made[name][1],
             "-out", made[name][0]], check=True, capture_output=True)
    return made


class Controller:
    """The generated controller in --simulation, on a free port."""

    def __init__(self, project, ssl_options=()):
        from sipyco.pc_rpc import Client

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hello.aqctl_hello", "--simulation",
             "--no-localhost-bind", "--bind", "127.0.0.1", "-p",
             str(self.port), *ssl_options], cwd=project,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = None
        self._client_class = Client

    def connect(self, ssl_config):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client = self._client_class(
                    "127.0.0.1", self.port, "hello", ssl_config=ssl_config)
                return self.client
            except (ConnectionRefusedError, EOFError, ssl.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        try:
            self.client.terminate()
        finally:
            self.client.close_rpc()
        self.process.wait(10)


# The receiving end of raw_transfer(), in a process of its own (as the
# controller is): for each connection, the bytes into a new array of
# their size, then one byte back.
RECEIVER = """
import socket, ssl, sys
import numpy
nbytes, certs = int(sys.argv[1]), sys.argv[2:]
context = None
if certs:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=certs[2])
    context.load_cert_chain(certs[0], certs[1])
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    if context:
        connection = context.wrap_socket(connection, server_side=True)
    buffer = numpy.empty(nbytes, numpy.uint8)
    view, got = memoryview(buffer), 0
    while got < nbytes:
        got += connection.recv_into(view[got:got + 4 * 1024 * 1024])
    connection.sendall(b"\\0")
    connection.close()
"""


class RawReceiver:
    """raw_transfer()'s other end: ``send(data, context)`` times one."""

    def __init__(self, nbytes, server_certs=()):
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(nbytes), *server_certs],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def send(self, data, context=None):
        """Seconds for the bytes of ``data`` to cross, from a new
        connection (and TLS handshake) to the receiver's byte back."""
        start = time.perf_counter()
        connection = socket.create_connection(("127.0.0.1", self.port))
        if context:
            connection = context.wrap_socket(connection)
        with connection:
            connection.sendall(memoryview(data).cast("B"))
            connection.recv(1)
        return time.perf_counter() - start

    def stop(self):
        self.process.kill()
        self.process.wait()


def row(name, seconds, nbytes, limit):
    print(f"  {name:<34} {seconds:>8.3f} s {nbytes / seconds / 1e6:>8,.0f} "
          f"MB/s {seconds / limit:>6.2f}x")


class Setting:
    """Without or with --ssl: the controller's options, the client's SSL
    configuration, the raw limit's contexts and the aqcli command."""

    def __init__(self, tls, certs):
        from sipyco.tools import SimpleSSLConfig

        self.tls = tls
        self.name = "with --ssl (TLS)" if tls else "without --ssl"
        self.ssl_config = self.client_context = None
        self.options, self.cli_options, self.server_certs = [], [], ()
        if tls:
            self.ssl_config = SimpleSSLConfig(*certs["client"],
                                              certs["controller"][0])
            self.client_context = self.ssl_config.create_client_context()
            self.options = ["--ssl", *certs["controller"],
                            certs["client"][0]]
            self.server_certs = self.options[1:]
            self.cli_options = ["--ssl", *certs["client"],
                                certs["controller"][0]]


def raw_limit(setting, data, runs):
    receiver = RawReceiver(data.nbytes, setting.server_certs)
    try:
        return statistics.median(
            receiver.send(data, setting.client_context)
            for _ in range(runs))
    finally:
        receiver.stop()


def transfer_rows(bulk, setting, port, data, limit, runs):
    """The channel and the pyon path, up and down; the targets missed."""
    figures = {}
    for path in ("channel", "pyon"):
        figures[path, "up"] = median_seconds(lambda: bulk.upload(
            "127.0.0.1", port, "keep", data, ssl_config=setting.ssl_config,
            path=path), runs)
        figures[path, "down"] = median_seconds(lambda: bulk.download(
            "127.0.0.1", port, "kept", ssl_config=setting.ssl_config,
            path=path), runs)
    names = {"channel": "binary channel", "pyon": "chunked pyon"}
    for (path, way), seconds in figures.items():
        row(f"{names[path]} {way}", seconds, data.nbytes, limit)
    misses = []
    for way in ("up", "down"):
        seconds = figures["channel", way]
        if seconds > CHANNEL_FACTOR * limit:
            misses.append(f"channel {way} of {data.size:,} {setting.name} "
                          f"beyond {CHANNEL_FACTOR}x raw")
        if not setting.tls and data.nbytes / seconds / 1e6 < \
                CHANNEL_MB_PER_S:
            misses.append(f"channel {way} of {data.size:,} below "
                          f"{CHANNEL_MB_PER_S} MB/s")
    return misses


def plain_client_rows(controller, setting, data, limit):
    """A plain sipyco Client down (where it ends in seconds) and up."""
    client = controller.client
    if data.size <= 1_000_000:
        row("plain Client down", median_seconds(client.kept, 1),
            data.nbytes, limit)
    else:
        print(f"  {'plain Client down':<34} not run: it reads in "
              "quadratic time (minutes)")
    try:
        client.keep(data)
        print(f"  {'plain Client up':<34} accepted")
    except Exception as error:  # the server drops the connection
        print(f"  {'plain Client up':<34} refused "
              f"({type(error).__name__}: over sipyco's 4 MiB line)")
        client.close_rpc()
        controller.connect(setting.ssl_config)


def client_rows(project, setting, port, data, data_path, limit, runs):
    """aqcli's upload and download of a file; the targets missed."""
    import numpy

    cli = [sys.executable, "-m", "hello.aqcli_hello", "-s", "127.0.0.1",
           "-p", str(port), *setting.cli_options]

    def aqcli(*words):
        return median_seconds(lambda: subprocess.run(
            [*cli, *words], cwd=project, check=True, capture_output=True),
            runs)

    numpy.save(data_path, data)
    start_up = aqcli("--help")
    read = median_seconds(lambda: numpy.load(data_path), runs)
    write = median_seconds(lambda: numpy.save(data_path, data), runs)
    print(f"  aqcli: start-up {start_up:.3f} s, reading the file "
          f"{read:.3f} s, writing it {write:.3f} s")
    misses = []
    for name, words, allowed in (
            ("aqcli keep FILE", ["keep", str(data_path)],
             start_up + limit + read),
            ("aqcli kept -o FILE", ["kept", "-o", str(data_path), "-f"],
             start_up + limit + write)):
        seconds = aqcli(*words)
        print(f"  {name:<34} {seconds:>8.3f} s "
              f"{seconds / allowed:>6.2f}x start-up + raw + file")
        if seconds > CLIENT_FACTOR * allowed:
            misses.append(f"{name} of {data.size:,} {setting.name} beyond "
                          f"{CLIENT_FACTOR}x")
    return misses


def one_setting(project, bulk, data_path, runs, setting):
    """The rows of one setting (plain or TLS); the targets it missed."""
    import numpy

    controller = Controller(project, setting.options)
    controller.connect(setting.ssl_config)
    print(f"-- {setting.name}: seconds, MB/s, and the ratio to raw "
          "loopback bytes")
    misses = []
    try:
        for samples in SIZES:
            data = numpy.random.default_rng(samples).standard_normal(samples)
            limit = raw_limit(setting, data, runs)
            print(f"{samples:>12,} float64 ({data.nbytes / 1e6:,.0f} MB)")
            row("raw loopback bytes (the limit)", limit, data.nbytes, limit)
            misses += transfer_rows(bulk, setting, controller.port, data,
                                    limit, runs)
            plain_client_rows(controller, setting, data, limit)
            misses += client_rows(project, setting, controller.port, data,
                                  data_path, limit, runs)
    finally:
        controller.stop()
    return misses


def measure(folder, runs):
    """Every figure above, in ``folder``; the targets missed."""
    folder = pathlib.Path(folder) / "channel"
    folder.mkdir()
    project = generated_project(folder)
    certs = certificates(folder)
    sys.path.insert(0, str(project))
    from hello.ndsp_runtime import bulk

    misses = []
    for tls in (False, True):
        misses += one_setting(project, bulk, folder / "data.npy", runs,
                              Setting(tls, certs))
    sys.path.remove(str(project))
    return misses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs: a rough figure")
    runs = 3 if parser.parse_args().quick else 5
    with tempfile.TemporaryDirectory() as folder:
        misses = measure(folder, runs)
    print("targets met" if not misses else "targets missed: "
          + "; ".join(misses))


if __name__ == "__main__":
    main()
