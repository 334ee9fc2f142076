{%- set name = cookiecutter.device_name -%}
"""What the tests share: the driver's public methods, and the controller,
run as artiq_ctlmgr does, in a process of its own."""

import asyncio
import importlib
import inspect
import ipaddress
import pathlib
import socket
import subprocess
import sys
import time

import pytest

# call and concurrently: the driver's methods, sync or asyncio alike.
from calls import *  # noqa: F401,F403

NAME = "{{ name }}"
CONTROLLER_MODULE = "{{ name }}.aqctl_{{ name }}"
STARTUP_TIMEOUT = 15.0  # seconds; generous for a busy machine
SIPYCO_MISSING = ("sipyco is not installed: this test runs the controller "
                  "over the real sipyco (see README.md)")


# The controller's own: it closes the device once, on exit.
NOT_REMOTE = {"close"}


def public_methods(cls):
    """The methods the controller serves and lists, by name: all but
    _private ones and close()."""
    return {name: method
            for name, method in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in NOT_REMOTE}


def served_class():
    """The class of the driver the controller builds and serves in
    --simulation: its open() may build another than driver.py's (a
    product's). Needs sipyco, for the controller's command line."""
    from {{ name }}.ndsp_runtime.controller import run

    controller = importlib.import_module(CONTROLLER_MODULE).CONTROLLER
    args = controller.argparser().parse_args(["--simulation"])
    loop = asyncio.new_event_loop()
    try:
        driver = run(loop, controller.open_driver(args))
        run(loop, driver.close())
    finally:
        loop.close()
    return type(driver)


def free_port():
    """A TCP port that nothing listens on, on the IPv4 loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_controller(*arguments, timeout=STARTUP_TIMEOUT):
    """Run the controller to its end; for the ways it refuses to start."""
    return subprocess.run(
        [sys.executable, "-m", CONTROLLER_MODULE, *arguments],
        capture_output=True, text=True, timeout=timeout)


# Where the tests' controllers listen: the IPv4 loopback, no IPv6 needed.
LOOPBACK = ("--no-localhost-bind", "--bind", "127.0.0.1")


class Controller:
    """A controller serving on a free port; with ``ssl``, requiring the
    throwaway certificates of certificates.py, which its clients present."""

    def __init__(self, *arguments, port=None, bind=LOOPBACK, env=None,
                 ssl=False):
        self.port = free_port() if port is None else port
        self.ssl_config = None
        if ssl:
            from certificates import (client_ssl_config,
                                      controller_ssl_arguments)

            arguments = (*arguments, *controller_ssl_arguments())
            self.ssl_config = client_ssl_config()
        self.process = subprocess.Popen(
            [sys.executable, "-m", CONTROLLER_MODULE, *bind,
             "-p", str(self.port), *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)

    def client(self, target=NAME, host="127.0.0.1", timeout=None):
        """A sipyco client, once the controller listens; ``timeout``:
        seconds it waits for each reply."""
        from sipyco.pc_rpc import Client

        ssl_config = self.ssl_config
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                return Client(host, self.port, target, timeout=timeout,
                              ssl_config=ssl_config)
            except ConnectionRefusedError:
                if self.process.poll() is not None:
                    pytest.fail("the controller exited: "
                                + self.process.stderr.read())
                if time.monotonic() > deadline:
                    pytest.fail("the controller never listened")
                time.sleep(0.05)

    def ping(self, timeout=None):
        """The driver's ping(), through a client of its own."""
        client = self.client(timeout=timeout)
        try:
            return client.ping()
        finally:
            client.close_rpc()

    def wait(self):
        """Wait for the controller to exit: (exit code, stdout, stderr)."""
        stdout, stderr = self.process.communicate(timeout=STARTUP_TIMEOUT)
        return self.process.returncode, stdout, stderr

    def terminate_over_rpc(self):
        """Ask the controller to stop, as artiq_ctlmgr does first."""
        client = self.client()
        try:
            client.terminate()
        finally:
            client.close_rpc()
        return self.wait()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def raw_connection(port):
    """A bare connection to the controller, as a client's socket is."""
    return socket.create_connection(("127.0.0.1", port),
                                    timeout=STARTUP_TIMEOUT)


class RawClient:
    """sipyco's protocol spoken by hand, to send what no sipyco client
    sends: requests in pyon v1, calls of names it does not list."""

    def __init__(self, port, target=NAME, features=("pyon_v2",),
                 then=()):
        """Connect to ``target``, announcing ``features``, and send the
        lines ``then`` at once, as a client that does not wait to be
        accepted would."""
        self.connection = raw_connection(port)
        self.lines = self.connection.makefile("rb")
        self.connection.sendall(b"ARTIQ pc_rpc\n")
        self.identification = self.lines.readline()
        self.connection.sendall(b"".join(
            line + b"\n" for line in
            [" ".join([target, *features]).encode(), *then]))
        self.methods = self.lines.readline()  # b"" when refused

    def send(self, line):
        self.connection.sendall(line + b"\n")

    def call(self, name, *args, **kwargs):
        """The decoded reply to a call of ``name``."""
        from sipyco import pyon

        self.send(pyon.encode({"action": "call", "name": name,
                               "args": list(args), "kwargs": kwargs}
                              ).encode())
        return pyon.decode(self.lines.readline().decode())

    def close(self):
        self.lines.close()
        self.connection.close()


def listening_addresses(port):
    """The addresses that listen on ``port`` (Linux: /proc/net), or None
    where this system does not say."""
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            return None
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:  # LISTEN
                # Each 32-bit word is in host (little-endian) order.
                packed = b"".join(bytes.fromhex(address[i:i + 8])[::-1]
                                  for i in range(0, width, 8))
                addresses.add(ipaddress.ip_address(packed).compressed)
    return addresses


@pytest.fixture
def start_controller():
    """Start controllers; whatever a test leaves running is killed."""
    started = []

    def start(*arguments, **options):
        started.append(Controller(*arguments, **options))
        return started[-1]

    yield start
    for controller in started:
        controller.kill()


def serve_until_terminated(*arguments, **options):
    """A controller for the tests that only call it; once they are done,
    it must stop cleanly on terminate. (A start costs a Python and sipyco
    each: a few tenths of a second.)"""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    controller = Controller(*arguments, **options)
    controller.client().close_rpc()  # it listens
    yield controller
    code, _, stderr = controller.terminate_over_rpc()
    assert code == 0, stderr


@pytest.fixture(scope="session")
def served():
    """One simulation, for every test that only calls it."""
    yield from serve_until_terminated("--simulation")


@pytest.fixture(scope="session")
def ssl_served():
    """One simulation that requires SSL, terminated over SSL."""
    yield from serve_until_terminated("--simulation", ssl=True)


@pytest.fixture
def unopenable_device():
    """An address at which nothing answers: a loopback port nothing
    listens on."""
    return f"127.0.0.1:{free_port()}"
