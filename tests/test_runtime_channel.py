"""The generic runtime's binary channel (ndsp_runtime.channel, through
ndsp_runtime.bulk), in this process, against the runtime's own server on
the real sipyco: arrays cross it bit for bit; every way a transfer can be
wrong is refused, the driver untouched and the controller serving; the
channel listens on no address the controller does not serve; under
--ssl, only a trusted client gets through."""

import logging
import socket
import ssl
import sys
import time

import pytest

from conftest import HAS_SIPYCO, TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the channel is offered by the "
                "runtime's server, which is sipyco's", allow_module_level=True)

import numpy  # noqa: E402
from sipyco.pc_rpc import Client  # noqa: E402
from sipyco.tools import SimpleSSLConfig  # noqa: E402

from ndsp_runtime import bulk, channel  # noqa: E402
from ndsp_runtime.limits import MIB, Limits  # noqa: E402
from ndsp_runtime.server import GuardedServer, PerConnection  # noqa: E402
from in_thread import InThread  # noqa: E402

NAME = "hello"
BULK = NAME + bulk.SUFFIX
DTYPES = ["<f8", "<f4", ">i4", "<i2", "u1", "<c16", "?"]


class Driver:
    """Keeps what it is given; returns what it is told to."""

    def __init__(self):
        self.loaded = None
        self.returns = numpy.arange(5.0)

    def load(self, data: numpy.ndarray):
        """Keep ``data``."""
        self.loaded = data

    def trace(self) -> numpy.ndarray:
        """What it was told to return."""
        return self.returns

    def ping(self) -> bool:
        """Alive."""
        return True

    def close(self):
        """The controller's."""


class Served(InThread):
    """The runtime's server with a bulk target, in a thread of its own."""

    def __init__(self, host="127.0.0.1", ssl_config=None, idle_timeout=5.0):
        self.driver = Driver()
        self.host = host
        super().__init__(GuardedServer(
            {NAME: self.driver, BULK: PerConnection(
                lambda connection: bulk.BulkSession.served(self.driver,
                                                           connection))},
            Limits(idle_timeout=idle_timeout, max_array_bytes=8 * MIB),
            allow_parallel=True), host, ssl_config)

    def session(self):
        """A sipyco Client on the bulk target."""
        return Client(self.host, self.port, BULK, timeout=10)

    def pings(self):
        client = Client(self.host, self.port, NAME, timeout=5)
        try:
            return client.ping()
        finally:
            client.close_rpc()


@pytest.fixture
def served():
    started = Served()
    yield started
    started.stop()


def samples(dtype, length):
    """``length`` samples of ``dtype`` made of random bytes (NaNs and
    every bit pattern included; bool as 0 and 1)."""
    kind = numpy.dtype(dtype)
    if kind.kind == "b":
        return numpy.random.default_rng(1).random(length) < 0.5
    raw = numpy.random.default_rng(1).bytes(length * kind.itemsize)
    return numpy.frombuffer(raw, kind).copy()


@pytest.mark.parametrize("length", [0, 1, 1001, 500_000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_cross_bit_for_bit(served, dtype, length):
    data = samples(dtype, length)
    bulk.upload("127.0.0.1", served.port, "load", data, path="channel")
    assert served.driver.loaded.dtype == data.dtype
    assert served.driver.loaded.tobytes() == data.tobytes()
    served.driver.returns = data
    back = bulk.download("127.0.0.1", served.port, "trace", path="channel")
    assert back.dtype == data.dtype and back.tobytes() == data.tobytes()


def offered(session, length=4, dtype="<f8"):
    port, token = session.offer_upload(length, dtype)
    return port, bytes.fromhex(token)


def connect(port, token, host="127.0.0.1"):
    connection = socket.create_connection((host, port), timeout=5)
    connection.sendall(token)
    return connection


def closed_without_status(connection):
    """Whether the controller closed ``connection`` having sent nothing."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def refused_commit(served, session):
    """commit() refuses the upload, nothing reached the driver, and the
    controller goes on serving."""
    with pytest.raises(ValueError, match="nothing was passed to the "
                       "driver"):
        session.commit("load", [], {})
    assert served.driver.loaded is None
    assert served.pings() is True


def test_a_wrong_token_is_refused_and_the_right_one_still_works(
        served, caplog):
    """Refused, each with one warning line per offer at most (a client in
    a loop fills no log)."""
    session = served.session()
    try:
        port, token = offered(session)
        with caplog.at_level("DEBUG", logger=channel.logger.name):
            for _ in range(3):
                with connect(port, bytes(channel.TOKEN_BYTES)) as wrong:
                    assert closed_without_status(wrong)
        refusals = [record.levelname for record in caplog.records
                    if "refused a connection" in record.getMessage()]
        assert refusals == ["WARNING", "DEBUG", "DEBUG"], refusals
        data = numpy.arange(4.0)
        with connect(port, token) as right:
            right.sendall(channel.header(data) + data.tobytes())
            assert right.recv(1) == b"\x00"
        session.commit("load", [], {})
        assert served.driver.loaded.tolist() == [0, 1, 2, 3]
        # Single use: the port listens no more.
        with pytest.raises(ConnectionRefusedError):
            connect(port, token)
    finally:
        session.close_rpc()


def test_a_late_token_is_refused(served, monkeypatch):
    monkeypatch.setattr(channel, "OFFER_SECONDS", 0.3)
    session = served.session()
    try:
        port, token = offered(session)
        time.sleep(1.0)
        with pytest.raises(ConnectionRefusedError):
            connect(port, token)
        refused_commit(served, session)
    finally:
        session.close_rpc()


def status(connection):
    reply = b""
    while chunk := connection.recv(256):
        reply += chunk
    return reply


@pytest.mark.parametrize("what, payload, reason", [
    ("a short payload", lambda data: channel.header(data) + data.tobytes()[
        :-3], None),
    ("a long payload", lambda data: channel.header(data) + data.tobytes()
     + b"\0" * 8, b"more than the 32 bytes announced"),
    ("another dtype", lambda data: channel.header(data.astype("<f4"))
     + data.astype("<f4").tobytes(), b"16 bytes of (4,) float32 announced"),
    ("another length", lambda data: channel.header(numpy.zeros(5))
     + bytes(40), b"40 bytes of (5,) float64 announced"),
    ("no header", lambda data: b"GET / HTTP/1.1\r\n\r\n" + bytes(20),
     b"no array header"),
])
def test_a_wrong_transfer_is_refused_and_reaches_no_driver(
        served, what, payload, reason):
    session = served.session()
    try:
        port, token = offered(session)
        with connect(port, token) as connection:
            connection.sendall(payload(numpy.arange(4.0)))
            if reason is None:  # cut off: the controller waits, then ends
                connection.shutdown(socket.SHUT_WR)
            got = status(connection)
        if reason is not None:
            assert got.startswith(b"\x01") and reason in got, got
        refused_commit(served, session)
    finally:
        session.close_rpc()


def test_an_interrupted_upload_leaves_the_drivers_data(served):
    """A complete upload, then one cut off half-way: the driver keeps the
    first; the next upload on the same connection goes through."""
    first = numpy.arange(10.0)
    bulk.upload("127.0.0.1", served.port, "load", first, path="channel")
    session = served.session()
    try:
        port, token = offered(session, 1_000_000)
        data = numpy.ones(1_000_000)
        with connect(port, token) as connection:
            connection.sendall(channel.header(data)
                               + data.tobytes()[:4_000_000])
        with pytest.raises(ValueError, match="nothing was passed"):
            session.commit("load", [], {})
        assert served.driver.loaded.tobytes() == first.tobytes()
        port, token = offered(session, 3)
        with connect(port, token) as connection:
            connection.sendall(channel.header(numpy.zeros(3)) + bytes(24))
            assert connection.recv(1) == b"\x00"
        session.commit("load", [], {})
        assert served.driver.loaded.tolist() == [0, 0, 0]
    finally:
        session.close_rpc()


def test_one_transfer_at_a_time_per_connection(served):
    """A new offer cancels the last: its port listens no more."""
    session = served.session()
    try:
        first, token = offered(session)
        second, _ = offered(session)
        time.sleep(0.1)
        with pytest.raises(ConnectionRefusedError):
            connect(first, token)
        assert second != first
        refused_commit(served, session)
    finally:
        session.close_rpc()


def test_a_new_offer_cuts_off_a_stalled_transfer(served):
    """A client that stalls a transfer and asks for another holds one
    transfer's memory, not one per offer: the stalled one is closed at
    once."""
    session = served.session()
    try:
        port, token = offered(session, 1000)
        with connect(port, token) as stalled:
            stalled.sendall(channel.header(numpy.zeros(1000)) + bytes(80))
            time.sleep(0.1)
            start = time.monotonic()
            offered(session, 1000)
            stalled.settimeout(3)
            assert closed_without_status(stalled)
            assert time.monotonic() - start < 1
    finally:
        session.close_rpc()


def test_an_offer_ends_with_its_rpc_connection(served):
    session = served.session()
    port, token = offered(session)
    session.close_rpc()
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        connect(port, token)
    assert served.pings() is True


def test_an_array_over_the_limit_is_offered_no_channel(served):
    session = served.session()
    try:
        with pytest.raises(ValueError, match="--max-array-mib"):
            offered(session, 8 * MIB // 8 + 1)
    finally:
        session.close_rpc()


def test_a_stalled_transfer_is_closed_after_the_idle_timeout():
    """--idle-timeout ends a channel that stops sending, as it ends an
    RPC connection that holds memory and sends nothing (this one too):
    the driver untouched, the controller serving."""
    served = Served(idle_timeout=0.5)
    try:
        session = served.session()
        try:
            port, token = offered(session, 1000)
            with connect(port, token) as connection:
                connection.sendall(channel.header(numpy.zeros(1000))
                                   + bytes(800))
                start = time.monotonic()
                try:
                    status(connection)
                except ConnectionResetError:
                    pass
                assert time.monotonic() - start < 3
        finally:
            session.close_rpc()
        assert served.driver.loaded is None
        assert served.pings() is True
    finally:
        served.stop()


def test_chunks_cannot_complete_an_upload_offered_on_a_channel(served):
    session = served.session()
    try:
        offered(session, 2)
        with pytest.raises(RuntimeError, match="on its binary channel"):
            session.chunk(0, numpy.zeros(2))
        refused_commit(served, session)
    finally:
        session.close_rpc()


def test_the_channel_listens_only_where_the_controller_serves(served):
    """Served on 127.0.0.1: the channel is not on 127.0.0.2 (loopback as
    well), nor on the wildcard."""
    session = served.session()
    try:
        port, token = offered(session)
        with pytest.raises(ConnectionRefusedError):
            connect(port, token, host="127.0.0.2")
        with connect(port, token) as connection:
            data = numpy.arange(4.0)
            connection.sendall(channel.header(data) + data.tobytes())
            assert connection.recv(1) == b"\x00"
    finally:
        session.close_rpc()


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_over_ipv6_the_channel_is_on_the_address_reached():
    try:
        served = Served("::1")
    except OSError as error:
        pytest.skip(f"::1 cannot be served here: {error}")
    try:
        data = numpy.arange(7.0)
        bulk.upload("::1", served.port, "load", data, path="channel")
        assert served.driver.loaded.tolist() == data.tolist()
        session = served.session()
        try:
            port, token = offered(session)
            with pytest.raises(ConnectionRefusedError):
                connect(port, token, host="127.0.0.1")
        finally:
            session.close_rpc()
    finally:
        served.stop()


class OlderSession(bulk.BulkSession):
    """The bulk target of a runtime from before the channel."""

    offer_upload = offer_download = None


def test_the_pyon_path_is_taken_where_no_channel_is_offered(served,
                                                            caplog):
    """A controller without channels (an older runtime's): path 'auto'
    falls back, and says so at -v; path 'channel' fails."""
    served.server._surfaces[BULK] = PerConnection(
        lambda connection: OlderSession(served.driver, connection.account))
    data = numpy.arange(6.0)
    with caplog.at_level("INFO", logger=bulk.logger.name):
        bulk.upload("127.0.0.1", served.port, "load", data)
        back = bulk.download("127.0.0.1", served.port, "trace")
    assert served.driver.loaded.tolist() == data.tolist()
    assert back.tolist() == served.driver.returns.tolist()
    assert caplog.text.count("the controller offers no binary channel "
                             "(an older runtime): the array") == 2, \
        caplog.text
    with pytest.raises(AttributeError):
        bulk.upload("127.0.0.1", served.port, "load", data, path="channel")


def test_auto_says_it_took_the_channel(served, caplog):
    with caplog.at_level("INFO", logger=bulk.logger.name):
        bulk.upload("127.0.0.1", served.port, "load", numpy.zeros(3))
    assert "on the binary channel" in caplog.text


@pytest.fixture
def ssl_served(certificates):
    started = Served(ssl_config=SimpleSSLConfig(
        *certificates["controller"], certificates["client"][0]))
    yield started
    started.stop()


def test_with_ssl_the_channel_is_tls_for_the_trusted_client_alone(
        ssl_served, certificates):
    trusted = SimpleSSLConfig(*certificates["client"],
                              certificates["controller"][0])
    data = numpy.arange(1000.0)
    bulk.upload("127.0.0.1", ssl_served.port, "load", data,
                ssl_config=trusted, path="channel")
    assert ssl_served.driver.loaded.tobytes() == data.tobytes()
    session = Client("127.0.0.1", ssl_served.port, BULK, timeout=10,
                     ssl_config=trusted)
    try:
        port, token = offered(session)
        # Plain TCP on the TLS channel: refused.
        with connect(port, token) as plain:
            assert closed_without_status(plain)
        # A stranger's certificate: the handshake fails.
        stranger = SimpleSSLConfig(*certificates["stranger"],
                                   certificates["controller"][0])
        with pytest.raises((ssl.SSLError, ConnectionError)):
            channel.send("127.0.0.1", port, token, numpy.zeros(4),
                         stranger, timeout=5)
        channel.send("127.0.0.1", port, token, numpy.arange(4.0),
                     trusted, timeout=5)
        session.commit("load", [], {})
        assert ssl_served.driver.loaded.tolist() == [0, 1, 2, 3]
    finally:
        session.close_rpc()


def test_a_channel_that_cannot_be_reached_falls_back_to_pyon(
        served, monkeypatch, caplog):
    """A firewall that lets only the controller's port through: the
    channel's connection is refused; 'auto' sends the array in chunks of
    pyon (the driver's method called once), 'channel' fails."""
    def firewalled(host, port, *rest):
        raise ConnectionRefusedError(f"port {port} is firewalled")

    monkeypatch.setattr(channel, "_connected", firewalled)
    calls = []
    served.driver.trace = lambda: calls.append(1) or numpy.arange(3.0)
    data = numpy.arange(5.0)
    with caplog.at_level("INFO", logger=bulk.logger.name):
        bulk.upload("127.0.0.1", served.port, "load", data)
        back = bulk.download("127.0.0.1", served.port, "trace")
    assert served.driver.loaded.tolist() == data.tolist()
    assert back.tolist() == [0, 1, 2] and calls == [1]
    assert caplog.text.count("the binary channel cannot be reached (port "
                             ) == 2, caplog.text
    with pytest.raises(ConnectionRefusedError):
        bulk.upload("127.0.0.1", served.port, "load", data, path="channel")


@pytest.mark.parametrize("path, said", [
    ("auto", "on the binary channel"), ("channel", "on the binary channel"),
    ("pyon", None)])
def test_the_client_moves_files_by_the_path_asked(
        served, monkeypatch, capsys, tmp_path, path, said):
    """aqcli_<name> upload FILE and trace -o FILE, with --array-path and
    -v: the arrays whole, and -v says which path they took."""
    from ndsp_runtime import client

    data = numpy.random.default_rng(2).random(1000)
    numpy.save(tmp_path / "in.npy", data)
    served.driver.returns = data[::-1].copy()

    def aqcli(*words):
        # A fresh logging set-up, as each run of the console script has.
        monkeypatch.setattr(logging.getLogger(), "handlers", [])
        monkeypatch.setattr(sys, "argv", [
            f"aqcli_{NAME}", "-s", "127.0.0.1", "-p", str(served.port),
            "--array-path", path, "-v", *words])
        try:
            client.main(lambda: client.argparser(Driver, NAME, "Hello", 1))
        except SystemExit as exit:
            assert exit.code in (0, None), capsys.readouterr()
        return capsys.readouterr().err

    logs = aqcli("load", str(tmp_path / "in.npy"))
    logs += aqcli("trace", "-o", str(tmp_path / "out.npy"))
    assert served.driver.loaded.tobytes() == data.tobytes()
    assert numpy.load(tmp_path / "out.npy").tobytes() == \
        served.driver.returns.tobytes()
    if said:
        assert logs.count(said) == 2, logs
    else:
        assert "binary channel" not in logs, logs
