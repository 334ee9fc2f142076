"""What a client on the lab network can throw at a controller, and how
the controller holds: its memory (RSS) and how soon it answers ping()
meanwhile. For tests/test_attacks.py and bench/soak.py; needs sipyco and
NumPy, and Linux's /proc for the RSS.

Each attack is what issue 16 measured against an unguarded controller:
an upload staged and never committed, a 70-byte request for 800 MB, a
hundred large replies pipelined and never read, large calls abandoned,
more connections than descriptors, and pyon v1 requests that eval would
run.
"""

import contextlib
import os
import pathlib
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

MIB = 1024 * 1024
STARTUP_TIMEOUT = 15.0
PING_INTERVAL = 0.1


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Controller:
    """A generated project's controller, in --simulation, on loopback."""

    def __init__(self, project, name, *options):
        self.name = name
        self.port = free_port()
        self.log = open(pathlib.Path(project).parent / f"{name}.log", "w+")
        environment = dict(os.environ, PYTHONPATH=str(project))
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"{name}.aqctl_{name}", "--simulation",
             "--no-localhost-bind", "--bind", "127.0.0.1",
             "-p", str(self.port), *options],
            cwd=project, env=environment, stdout=subprocess.DEVNULL,
            stderr=self.log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                if self.ping():
                    break
            except OSError:
                if self.process.poll() is not None or \
                        time.monotonic() > deadline:
                    raise RuntimeError("the controller did not start: "
                                       + self.stderr())
                time.sleep(0.05)

    def client(self, target=None, timeout=10.0):
        from sipyco.pc_rpc import Client

        return Client("127.0.0.1", self.port, target or self.name,
                      timeout=timeout)

    def ping(self, timeout=5.0):
        """ping(), as artiq_ctlmgr sends it: on a connection of its own."""
        client = self.client(timeout=timeout)
        try:
            return client.ping()
        finally:
            client.close_rpc()

    def rss(self):
        """The controller's resident memory, in bytes."""
        status = pathlib.Path(f"/proc/{self.process.pid}/status")
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in " + str(status))

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, how="terminate"):
        """terminate over RPC, or the signal ``how`` ("SIGTERM"): its exit
        code, and what it logged."""
        try:
            if how == "terminate":
                client = self.client()
                try:
                    client.terminate()
                finally:
                    client.close_rpc()
            else:
                self.process.send_signal(getattr(signal, how))
            code = self.process.wait(STARTUP_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            log = self.stderr()
            self.log.close()
        return code, log


class Watch:
    """While it runs: the controller's peak RSS, and every ping() from a
    proper client, each on a new connection, its time and its answer."""

    def __init__(self, controller):
        self.controller = controller
        self.start = controller.rss()
        self.peak = self.start
        self.pings = []  # (seconds, answer)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample),
                         threading.Thread(target=self._ping)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exception):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _sample(self):
        while not self._stop.wait(0.01):
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, self.controller.rss())

    def _ping(self):
        while not self._stop.wait(PING_INTERVAL):
            started = time.monotonic()
            try:
                answer = self.controller.ping()
            except Exception as error:  # any failure is a wrong answer
                answer = error
            self.pings.append((time.monotonic() - started, answer))

    def slowest_ping(self):
        return max(seconds for seconds, _ in self.pings)

    def wrong_answers(self):
        return sum(answer is not True for _, answer in self.pings)


def handshake(port, target, features="pyon_v2"):
    """A raw connection past sipyco's handshake, and its lines (the
    methods line is empty when the controller refused it)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = connection.makefile("rb")
    connection.sendall(b"ARTIQ pc_rpc\n")
    lines.readline()
    connection.sendall(f"{target} {features}".strip().encode() + b"\n")
    return connection, lines, lines.readline()


def request(name, *args):
    from sipyco import pyon

    return pyon.encode({"action": "call", "name": name, "args": list(args),
                        "kwargs": {}}).encode() + b"\n"


def refusal(call):
    """What ``call()`` gave: "refused: <its error>" or "served"."""
    try:
        call()
    except (ValueError, OSError, EOFError) as error:
        return f"refused: {type(error).__name__}: {error}"
    return "served"


# The attacks. Each returns what the attacker got, per step, and the
# connections it keeps open (closed by release()).

def staged_uploads(controller, connections, samples):
    """Uploads staged in full and never committed, each on a connection
    that then idles."""
    import numpy

    kept, outcomes = [], []
    chunk = numpy.zeros(256 * 1024)
    for _ in range(connections):
        bulk = controller.client(f"{controller.name}_bulk")
        kept.append(bulk)

        def stage():
            bulk.begin(samples, "<f8")
            for index, _ in enumerate(range(0, samples, len(chunk))):
                bulk.chunk(index, chunk[:samples - index * len(chunk)])
        outcomes.append(refusal(stage))
    return outcomes, kept


def huge_requests(controller):
    """acquire(100000000): 800 MB asked for in 70 bytes, on the main
    target and through the bulk target."""
    outcomes = []
    for target, call in [
            (controller.name, lambda client: client.acquire(100_000_000)),
            (f"{controller.name}_bulk",
             lambda client: client.call("acquire", [100_000_000], {}))]:
        client = controller.client(target)
        try:
            outcomes.append(refusal(lambda: call(client)))
        finally:
            client.close_rpc()
    return outcomes, []


def unread_fetches(controller, samples, count=100):
    """A large result kept, then ``count`` fetches of it pipelined on one
    connection that never reads a reply."""
    connection, lines, _ = handshake(controller.port,
                                     f"{controller.name}_bulk")
    connection.sendall(request("call", "acquire", [samples], {}))
    lines.readline()
    connection.sendall(request("fetch", 0, samples) * count)
    return ["sent"], [(connection, lines)]


def abandoned_calls(controller, count, samples):
    """Large calls whose clients leave before the reply."""
    for _ in range(count):
        connection, lines, _ = handshake(controller.port, controller.name)
        connection.sendall(request("acquire", samples))
        lines.close()
        connection.close()
    return ["left"] * count, []


def idle_connections(controller, count):
    """``count`` connections past the handshake, held idle."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(hard, count + 100), hard))
    kept = []
    for _ in range(count):
        try:
            connection, lines, _ = handshake(controller.port,
                                             controller.name)
        except OSError:  # an evicted one, before its handshake ended
            continue
        kept.append((connection, lines))
    return [f"{len(kept)} opened"], kept


def eval_requests(controller, marker):
    """pyon v1 handshakes followed by what eval would run."""
    outcomes = []
    for code in [f"__import__('pathlib').Path({str(marker)!r}).touch()",
                 "10**10**7"]:
        connection, lines, methods = handshake(controller.port,
                                               controller.name, "")
        with connection, lines:
            with contextlib.suppress(OSError):
                connection.sendall(code.encode() + b"\n")
            outcomes.append("refused" if methods == b"" else "served")
    return outcomes, []


def closed_by_server(connection, timeout=5.0):
    """Whether the controller closes ``connection`` within ``timeout``,
    whatever it sends before."""
    connection.settimeout(timeout)
    try:
        while connection.recv(1 << 20):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def closed_after(connection, seconds):
    """Whether the controller has closed ``connection``, read nothing of
    for ``seconds``."""
    time.sleep(seconds)
    return closed_by_server(connection)


def release(kept):
    """Close what the attacks kept open."""
    for held in kept:
        with contextlib.suppress(OSError):
            if isinstance(held, tuple):
                for part in reversed(held):
                    part.close()
            else:
                held.close_rpc()


def settle(controller, start, seconds):
    """The controller's RSS once ``seconds`` have passed, or as soon as it
    is back within 100 MiB of ``start``."""
    deadline = time.monotonic() + seconds
    while True:
        rss = controller.rss()
        if rss - start < 100 * MIB or time.monotonic() > deadline:
            return rss
        time.sleep(0.1)
