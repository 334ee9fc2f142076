"""A one-time binary channel for one array, beside sipyco's RPC.

pyon encodes an array as base64 text inside a line: moving 80 MB costs
seconds of encoding, where the loopback carries raw bytes ten times as
fast. So the bulk target offers, per transfer, a channel of raw bytes:

1. over RPC, the client asks for it; the controller listens on a new port
   of the address that the client's RPC connection reached (an address it
   already serves, never a wider one) and answers with that port and a
   single-use token of 32 random bytes;
2. the client connects there (with TLS and the same certificates as the
   RPC port, under --ssl), sends the token, then, for an upload, a header
   (dtype, shape, byte count) and the array's bytes; for a download the
   controller sends the header and the bytes;
3. one status byte ends an upload: 0, or 1 and the reason.

A token not presented within OFFER_SECONDS, a wrong one, a header that
does not match what was offered, a short or long payload: refused, and
nothing reaches the driver (the staged array is handed to it only by the
RPC commit that follows a complete transfer). The transfer runs in a
thread of its own, on blocking sockets, straight into or out of the
array's memory: no copy besides the network's.
"""

import contextlib
import hmac
import logging
import secrets
import socket
import struct
import threading
import time

import numpy

logger = logging.getLogger(__name__)

MAGIC = b"NDSPARR1"
TOKEN_BYTES = 32
# Seconds for the client to present the token, after the offer.
OFFER_SECONDS = 10.0
# Seconds a connection may take to present its token: a stray or hostile
# one must not hold up the client the offer is for.
TOKEN_SECONDS = 2.0
# Seconds a refused client's remaining bytes are read, so that it gets
# the reason.
REFUSAL_SECONDS = 1.0
MAX_DIMENSIONS = 8
# magic, dtype (ASCII, space-padded), dimensions; then a uint64 per
# dimension and the byte count.
HEAD = struct.Struct("!8s16sB")
SIZE = struct.Struct("!Q")
# Bytes per send and receive call.
PIECE = 4 * 1024 * 1024


class ChannelError(Exception):
    """A transfer on the channel was refused or cut off."""


def header(array):
    """The header that announces ``array``'s bytes."""
    if array.ndim > MAX_DIMENSIONS:
        raise ValueError(f"an array of {array.ndim} dimensions: at most "
                         f"{MAX_DIMENSIONS} travel on the channel")
    return (HEAD.pack(MAGIC, array.dtype.str.encode("ascii").ljust(16),
                      array.ndim)
            + b"".join(SIZE.pack(length) for length in array.shape)
            + SIZE.pack(array.nbytes))


def read_header(receive):
    """(dtype, shape, byte count) from ``receive(n)``, which returns
    exactly n bytes; ChannelError for anything that is no header."""
    magic, dtype, ndim = HEAD.unpack(receive(HEAD.size))
    if magic != MAGIC or ndim > MAX_DIMENSIONS:
        raise ChannelError("what arrived is no array header")
    try:
        kind = numpy.dtype(dtype.rstrip(b" ").decode("ascii"))
    except (UnicodeDecodeError, TypeError, ValueError):
        raise ChannelError("the header names no dtype") from None
    shape = tuple(SIZE.unpack(receive(SIZE.size))[0] for _ in range(ndim))
    [nbytes] = SIZE.unpack(receive(SIZE.size))
    return kind, shape, nbytes


def receive_exactly(connection, count):
    """``count`` bytes from ``connection``; ChannelError if it ends first."""
    data = bytearray(count)
    receive_into(connection, memoryview(data))
    return bytes(data)


def receive_into(connection, buffer):
    """Fill ``buffer`` (a byte memoryview) from ``connection``."""
    done = 0
    while done < len(buffer):
        got = connection.recv_into(buffer[done:done + PIECE])
        if not got:
            raise ChannelError(f"the connection ended after {done} of "
                               f"{len(buffer)} bytes")
        done += got


def raw_bytes(array):
    """``array``'s memory as bytes to read or write in place."""
    return memoryview(array).cast("B") if array.nbytes else memoryview(b"")


class Offer:
    """One transfer of ``array`` on a port of ``address`` of its own:
    ``receive`` fills the array, else the array is sent. ``complete`` is
    set once the whole array has crossed."""

    def __init__(self, address, array, receive, ssl_config=None,
                 idle_timeout=OFFER_SECONDS):
        self.token = secrets.token_bytes(TOKEN_BYTES)
        self.complete = threading.Event()
        self.cancelled = False
        self._refused = 0  # connections without the token
        self._connection = None  # the one that presented it
        self._array, self._receive = array, receive
        self._idle = idle_timeout
        self._context = (ssl_config.create_server_context()
                         if ssl_config is not None else None)
        self._listener = socket.create_server(
            (address, 0), family=socket.AF_INET6 if ":" in address
            else socket.AF_INET, backlog=4)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"channel {self.port}")
        self._thread.start()

    def cancel(self):
        """Stop listening, and cut off a transfer under way: its thread
        ends, and lets go of the array (which is no longer counted in the
        connection's memory). Shut down first: a close alone would not
        wake the thread's accept() or recv()."""
        self.cancelled = True
        for item in (self._listener, self._connection):
            if item is not None:
                with contextlib.suppress(OSError):
                    item.shutdown(socket.SHUT_RDWR)
                self._close(item)

    def _run(self):
        try:
            connection = self._accepted()
            if connection is not None:
                with connection:
                    self._transfer(connection)
        except (OSError, ChannelError, struct.error) as error:
            if not self.cancelled:
                logger.warning("the transfer on port %d failed: %s",
                               self.port, str(error) or type(error).__name__)
        finally:
            self._close(self._listener)

    def _accepted(self):
        """The connection that presents the token, or None once expired."""
        deadline = time.monotonic() + OFFER_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.info("the offer on port %d expired", self.port)
                return None
            self._listener.settimeout(remaining)
            try:
                connection, peer = self._listener.accept()
            except socket.timeout:
                continue
            try:
                connection = self._presented(connection)
            except (OSError, ChannelError) as error:
                # One line per offer: a client in a loop fills no disk.
                self._refused += 1
                logger.log(logging.WARNING if self._refused == 1
                           else logging.DEBUG, "refused a connection to "
                           "the channel on port %d from %s: %s", self.port,
                           peer[0], error)
                self._close(connection)
                continue
            self._close(self._listener)  # single use
            connection.settimeout(self._idle)
            self._connection = connection
            if self.cancelled:  # in the meantime
                self._close(connection)
                return None
            return connection

    def _presented(self, connection):
        connection.settimeout(TOKEN_SECONDS)
        if self._context is not None:
            connection = self._context.wrap_socket(connection,
                                                   server_side=True)
        token = receive_exactly(connection, TOKEN_BYTES)
        if not hmac.compare_digest(token, self.token):
            raise ChannelError("a wrong token")
        return connection

    def _transfer(self, connection):
        if not self._receive:
            connection.sendall(header(self._array))
            data = raw_bytes(self._array)
            for start in range(0, len(data), PIECE):
                connection.sendall(data[start:start + PIECE])
            self.complete.set()
            return
        try:
            self._received(connection)
        except ChannelError as error:
            _refuse(connection, str(error))
            raise
        # Complete before the client hears it: its commit() comes next.
        self.complete.set()
        connection.sendall(b"\x00")

    def _received(self, connection):
        array = self._array
        kind, shape, nbytes = read_header(
            lambda count: receive_exactly(connection, count))
        if (kind, shape, nbytes) != (array.dtype, array.shape, array.nbytes):
            raise ChannelError(
                f"{nbytes} bytes of {shape} {kind} announced where "
                f"{array.nbytes} bytes of {array.shape} {array.dtype} were "
                "offered")
        receive_into(connection, raw_bytes(array))
        if _more_waiting(connection):
            raise ChannelError(f"more than the {nbytes} bytes announced")

    @staticmethod
    def _close(item):
        with contextlib.suppress(OSError):
            item.close()


def _refuse(connection, reason):
    """Tell the client why, then read what it still sends (for at most
    REFUSAL_SECONDS): closed with unread bytes, the connection would be
    reset before the client reads the reason."""
    with contextlib.suppress(OSError):
        connection.sendall(b"\x01" + reason.encode()[:200])
        connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + REFUSAL_SECONDS
        sink = bytearray(PIECE)
        while time.monotonic() < deadline:
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            if not connection.recv_into(sink):
                break


def _more_waiting(connection):
    """Whether bytes beyond the payload have already arrived."""
    connection.setblocking(False)
    try:
        return bool(connection.recv(1))
    except OSError:  # nothing there (SSLWantReadError too), or gone
        return False
    finally:
        connection.setblocking(True)


class Channels:
    """The channels of one RPC connection: on the address it reached,
    with the controller's SSL configuration, one transfer at a time (a
    new offer cancels the last), each within ``idle_timeout`` seconds
    between its reads and writes."""

    def __init__(self, address, ssl_config=None, idle_timeout=OFFER_SECONDS):
        self._address, self._ssl_config = address, ssl_config
        self._idle = idle_timeout
        self.current = None

    def offer(self, array, receive):
        self.cancel()
        self.current = Offer(self._address, array, receive,
                             self._ssl_config, self._idle)
        return self.current

    def cancel(self):
        if self.current is not None:
            self.current.cancel()
            self.current = None


# --- the client's side ----------------------------------------------------

def _connected(host, port, token, ssl_config, timeout):
    connection = socket.create_connection((host, port), timeout=timeout)
    try:
        if ssl_config is not None:
            connection = ssl_config.create_client_context().wrap_socket(
                connection)
        connection.sendall(token)
    except BaseException:
        connection.close()
        raise
    return connection


def send(host, port, token, array, ssl_config=None, timeout=10.0,
         progress=None):
    """Send ``array`` on the channel offered at host:port with ``token``;
    ChannelError with the controller's reason if it refuses."""
    array = numpy.ascontiguousarray(array)
    with _connected(host, port, token, ssl_config, timeout) as connection:
        connection.sendall(header(array))
        data = raw_bytes(array)
        for start in range(0, len(data), PIECE):
            connection.sendall(data[start:start + PIECE])
            if progress:
                progress(min(start + PIECE, len(data)), len(data))
        status = connection.recv(256)
    if status != b"\x00":
        reason = status[1:].decode(errors="replace") or \
            "the controller closed the channel"
        raise ChannelError(f"the upload was refused: {reason}")


def receive(host, port, token, dtype, shape, ssl_config=None,
            timeout=10.0, progress=None):
    """The array sent on the channel offered at host:port with ``token``:
    what its header announces must be the ``dtype`` and ``shape`` that
    the offer said."""
    expected = numpy.dtype(dtype)
    with _connected(host, port, token, ssl_config, timeout) as connection:
        kind, got_shape, nbytes = read_header(
            lambda count: receive_exactly(connection, count))
        if (kind, got_shape) != (expected, tuple(shape)) or \
                nbytes != expected.itemsize * int(numpy.prod(shape)):
            raise ChannelError(f"the controller announced {nbytes} bytes "
                               f"of {got_shape} {kind} where {shape} "
                               f"{expected} were offered")
        array = numpy.empty(shape, expected)
        data = raw_bytes(array)
        for start in range(0, len(data), PIECE):
            receive_into(connection, data[start:start + PIECE])
            if progress:
                progress(min(start + PIECE, len(data)), len(data))
    return array
