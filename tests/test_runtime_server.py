"""The generic runtime's RPC server (ndsp_runtime.server, .surface and
.limits), in this process, against the real sipyco: what a client on the
lab network can and cannot do to a controller."""

import asyncio
import contextlib
import logging
import socket
import sys
import time

import pytest

from conftest import HAS_SIPYCO, TEMPLATE

# The runtime as a generated package holds it, a plain package here.
sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the runtime's server is sipyco's "
                "Server, tested against the real one", allow_module_level=True)

import numpy  # noqa: E402
from sipyco import pyon, pyon_v1  # noqa: E402
from sipyco.pc_rpc import Client  # noqa: E402

from ndsp_runtime import limits as limits_module  # noqa: E402
from ndsp_runtime.limits import MIB, Limits  # noqa: E402
from ndsp_runtime.server import (GuardedServer, PerConnection,  # noqa: E402
                                 array_reply)
from ndsp_runtime.surface import Surface, remote_methods  # noqa: E402
from attacks import closed_by_server, handshake, request  # noqa: E402
from in_thread import InThread  # noqa: E402


class Device:
    """A device with every kind of attribute a driver may have."""

    Error = RuntimeError  # a nested class: not a method

    def __init__(self):
        self.closed = False
        self.value = 1
        self.callback = print  # set on the instance: not a method

    def ping(self):
        """Whether it is open."""
        return not self.closed

    def close(self):
        """The controller's: closes it."""
        self.closed = True

    def get(self):
        """Its value."""
        return self.value

    def samples(self, n):
        """``n`` float64 samples."""
        return numpy.arange(float(n))

    async def wait(self, seconds):
        """Sleep, serving others meanwhile."""
        await asyncio.sleep(seconds)
        return seconds

    @staticmethod
    def twice(x):
        """Twice ``x``."""
        return 2 * x

    @classmethod
    def kind(cls):
        """Its class's name."""
        return cls.__name__

    @property
    def state(self):
        return self.value

    def _secret(self):
        return "secret"


class Stager:
    """Holds memory for its connection, as a bulk session does."""

    def __init__(self, account):
        self.account = account

    def stage(self, nbytes):
        """Hold ``nbytes``."""
        self.account.hold("upload", nbytes, f"staging {nbytes} bytes")
        return True


class Served(InThread):
    """A GuardedServer on a loopback port, in a thread of its own."""

    def __init__(self, limits):
        self.device = Device()
        super().__init__(GuardedServer(
            {"device": self.device, "stager": PerConnection(
                lambda connection: Stager(connection.account))},
            limits, "a test device", allow_parallel=True))

    def client(self, target="device", timeout=5.0):
        return Client("127.0.0.1", self.port, target, timeout=timeout)

    def ping(self, timeout=1.0):
        """ping() from a proper client, which must answer within
        ``timeout`` seconds."""
        client = self.client(timeout=timeout)
        try:
            return client.ping()
        finally:
            client.close_rpc()

    def held(self):
        return self.server.budget.held

    def connections(self):
        return len(self.server._open())


@pytest.fixture
def serve():
    started = []

    def serve(**limits):
        started.append(Served(Limits(**limits)))
        return started[-1]

    yield serve
    for served in started:
        served.stop()


def raw(port, target="device", features="pyon_v2"):
    return handshake(port, target, features)


def eventually(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# The surface.

def test_the_surface_is_the_public_methods_of_the_class():
    assert remote_methods(Device()) == ["get", "kind", "ping", "samples",
                                        "twice", "wait"]


def test_a_surface_holds_nothing_else():
    surface = Surface(Device())
    assert list(surface) == remote_methods(Device())
    assert "close" not in surface and "_secret" not in surface
    assert not hasattr(surface, "close")
    assert surface.__doc__ == "A device with every kind of attribute a " \
        "driver may have."


def test_sipyco_lists_exactly_the_surface(serve):
    served = serve()
    client = served.client()
    try:
        methods = client.get_rpc_method_list()["methods"]
        assert client.twice(21) == 42 and client.kind() == "Device"
    finally:
        client.close_rpc()
    assert set(methods) == {*remote_methods(Device()), "terminate"}


@pytest.mark.parametrize("name", ["close", "_secret", "__setattr__",
                                  "__init__", "__class__", "callback",
                                  "Error", "state", "_names", "missing"])
def test_nothing_else_can_be_called(serve, name):
    served = serve()
    connection, lines, _ = raw(served.port)
    with connection, lines:
        connection.sendall(request(name, "value", 0))
        reply = pyon.decode(lines.readline().decode())
    assert reply["status"] == "failed"
    assert reply["exception"]["class"] == "AttributeError"
    assert served.device.value == 1 and not served.device.closed
    assert served.ping() is True


# The pyon v2 gate.

def test_a_pyon_v1_client_is_refused_with_one_line(serve, caplog, tmp_path):
    served = serve()
    marker = tmp_path / "ran"
    for _ in range(20):
        connection, lines, methods = raw(served.port, features="")
        with connection, lines:
            assert methods == b""
            with contextlib.suppress(OSError):
                connection.sendall(
                    f"__import__('os').mkdir({str(marker)!r})\n".encode())
    assert served.ping() is True
    assert not marker.exists()
    refusals = [record for record in caplog.records
                if "pyon_v2" in record.getMessage()]
    assert len(refusals) == 1  # the 19 others within REPORT_INTERVAL
    assert refusals[0].levelno == logging.WARNING


def test_allow_pyon_v1_serves_an_old_client(serve):
    served = serve(allow_pyon_v1=True)
    connection, lines, methods = raw(served.port, features="")
    with connection, lines:
        assert pyon_v1.decode(methods.decode()) >= {"ping", "terminate"}
        connection.sendall(pyon_v1.encode(
            {"action": "call", "name": "get", "args": [], "kwargs": {}}
        ).encode() + b"\n")
        assert pyon_v1.decode(lines.readline().decode()) == \
            {"status": "ok", "ret": 1}


# Limits.

def test_an_array_over_the_limit_is_refused_before_it_is_sent(serve):
    served = serve(max_array_bytes=MIB)
    client = served.client()
    try:
        assert len(client.samples(MIB // 8)) == MIB // 8
        with pytest.raises(ValueError, match="more than the 1 MiB an array "
                           "may be"):
            client.samples(MIB // 8 + 1)
        assert client.ping() is True
    finally:
        client.close_rpc()


def test_array_replies_are_pyons_own_encoding():
    for array in [numpy.arange(5.0), numpy.zeros((2, 3), numpy.int16),
                  numpy.zeros(0), numpy.arange(6)[::2], numpy.array(3.5),
                  numpy.ones(3, numpy.complex128)]:
        line = pyon.encode({"status": "ok", "ret": array}) + "\n"
        assert b"".join(array_reply(array)) == line.encode()


def test_memory_is_held_per_connection_and_in_all(serve):
    served = serve(max_connection_bytes=10 * MIB, max_total_bytes=15 * MIB)
    first, second = served.client("stager"), served.client("stager")
    try:
        assert first.stage(8 * MIB) is True
        with pytest.raises(ValueError, match="this connection may hold "
                           "10 MiB in all"):
            first.stage(11 * MIB)
        with pytest.raises(ValueError, match="the controller holds 8 MiB "
                           "of its 15 MiB for all connections"):
            second.stage(8 * MIB)
        assert served.held() == 8 * MIB  # the refusals changed nothing
    finally:
        first.close_rpc()
    assert eventually(lambda: served.held() == 0)
    try:
        assert second.stage(8 * MIB) is True
    finally:
        second.close_rpc()


def test_a_connection_idle_while_holding_memory_is_closed(serve):
    served = serve(idle_timeout=0.3)
    holding = served.client("stager")
    idle = served.client("stager")
    try:
        holding.stage(MIB)
        assert eventually(lambda: served.held() == 0, 3)
        with pytest.raises((OSError, EOFError)):  # closed
            holding.stage(1)
        time.sleep(0.5)  # an idle connection holding nothing stays
        assert idle.stage(0) is True
    finally:
        holding.close_rpc()
        idle.close_rpc()


def test_a_client_that_reads_no_reply_is_held_back_then_closed(serve):
    """100 pipelined requests for 8 MB each, never read: the controller
    holds a few replies at most, answers others meanwhile, and lets go
    of all of it."""
    served = serve(max_unread_replies=2, idle_timeout=1.0)
    connection, lines, _ = raw(served.port)
    with connection, lines:
        connection.sendall(request("samples", 1_000_000) * 100)
        peak = 0
        for _ in range(10):
            assert served.ping() is True
            peak = max(peak, served.held())
            time.sleep(0.05)
        assert 0 < peak <= 4 * 11 * MIB  # a few encoded replies
        time.sleep(1.0)  # reading nothing, for the idle timeout
        assert closed_by_server(connection)
    assert eventually(lambda: served.held() == 0)


def test_connections_over_the_limit_close_the_idlest(serve, caplog):
    served = serve(max_connections=5)
    idle = [raw(served.port) for _ in range(20)]
    try:
        assert eventually(lambda: served.connections() <= 5)
        assert served.ping() is True
        evictions = [record for record in caplog.records
                     if "--max-connections" in record.getMessage()]
        assert len(evictions) == 1  # said once, not sixteen times
    finally:
        for connection, lines, _ in idle:
            lines.close()
            connection.close()


def test_a_connection_waiting_for_its_call_is_not_the_one_closed(serve):
    """A long call (an experiment's ramp) keeps its connection when new
    ones crowd in: the idlest of the others goes."""
    served = serve(max_connections=3)
    connection, lines, _ = raw(served.port)
    with connection, lines:
        connection.sendall(request("wait", 1.0))
        time.sleep(0.2)  # its call runs
        crowd = [raw(served.port) for _ in range(4)]
        reply = pyon.decode(lines.readline().decode())
        for other, other_lines, _ in crowd:
            other_lines.close()
            other.close()
    assert reply == {"status": "ok", "ret": 1.0}


def test_a_slow_handshake_is_closed(serve):
    served = serve(handshake_timeout=0.2)
    with socket.create_connection(("127.0.0.1", served.port)) as silent:
        assert closed_by_server(silent, 3)
    assert served.ping() is True


# What a misbehaving client leaves in the log: one line, no traceback.

@pytest.mark.parametrize("line", [b"\xff\xfe not pyon\n", b"[1,\n",
                                  b"{\"action\": " + b"[" * 100000 + b"\n"])
def test_a_malformed_request_is_one_log_line(serve, caplog, line):
    served = serve()
    connection, lines, _ = raw(served.port)
    with connection, lines:
        connection.sendall(line)
        assert closed_by_server(connection)
    assert served.ping() is True
    [record] = [record for record in caplog.records
                if record.levelno >= logging.WARNING]
    assert "malformed request" in record.getMessage()
    assert record.exc_info is None


def test_a_client_that_leaves_before_its_reply_logs_no_traceback(serve,
                                                                 caplog):
    served = serve()
    for name, args in [("wait", (0.2,)), ("samples", (2_000_000,))]:
        for _ in range(5):
            connection, lines, _ = raw(served.port)
            connection.sendall(request(name, *args))
            lines.close()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b"\x01\x00\x00\x00\x00\x00\x00\x00")
            connection.close()  # a reset
    time.sleep(0.5)
    assert served.ping() is True
    assert not [record for record in caplog.records
                if record.levelno >= logging.WARNING or record.exc_info]
    assert eventually(lambda: served.held() == 0)


def test_limits_are_options_with_their_defaults():
    import argparse

    parser = argparse.ArgumentParser()
    limits_module.add_arguments(parser)
    assert limits_module.from_arguments(parser.parse_args([])) == \
        limits_module.DEFAULTS
    args = parser.parse_args(["--max-array-mib", "2", "--max-connections",
                              "3", "--idle-timeout", "1.5",
                              "--allow-pyon-v1"])
    limits = limits_module.from_arguments(args)
    assert (limits.max_array_bytes, limits.max_connections,
            limits.idle_timeout, limits.allow_pyon_v1) == \
        (2 * MIB, 3, 1.5, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--max-connections", "0"])
