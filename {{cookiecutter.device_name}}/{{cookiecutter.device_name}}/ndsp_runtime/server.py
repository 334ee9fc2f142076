"""sipyco's RPC server, made safe to leave on a lab network for weeks.

``artiq_ctlmgr`` passes ``--bind`` the address through which it reaches
the master, so on a multi-host set-up anyone on the lab network reaches
the controller's port. sipyco's own server then:

- decodes the requests of a client that does not announce ``pyon_v2``
  with pyon v1, which is ``eval``: a request can run any code;
- calls any attribute a request names (``close``, ``__setattr__``);
- holds whatever clients leave it: staged data, unread replies, idle
  connections, until memory or file descriptors run out;
- logs a traceback for every client that leaves early.

``GuardedServer`` keeps sipyco's protocol, so that sipyco's clients,
``sipyco_rpctool``, ARTIQ's master and ``artiq_ctlmgr`` work unchanged,
and adds: clients that do not announce ``pyon_v2`` are refused (unless
``Limits.allow_pyon_v1``); each target is served as a ``Surface``, its
public methods only; the limits of ``limits.Limits``; one log line, at
most one every few seconds of each kind, for a client that misbehaves.
"""

import asyncio
import base64
import collections
import contextlib
import gc
import json
import logging
import time

import numpy
from sipyco import keepalive, pyon, pyon_v1
from sipyco.packed_exceptions import current_exc_packed
from sipyco.pc_rpc import Server
from sipyco.tools import SignalHandler

from .limits import MemoryBudget, check_array
from .surface import Surface

logger = logging.getLogger(__name__)

GREETING = b"ARTIQ pc_rpc\n"
# A client may repeat one kind of misbehaviour in a loop: say it once in
# this many seconds, with how often it happened meanwhile.
REPORT_INTERVAL = 10.0
# Replies this small are always sent: an error that says a limit is
# reached must itself get through.
SMALL_REPLY = 64 * 1024
# How often a connection that has left too many replies unread is checked.
UNREAD_POLL = 0.02


class PerConnection:
    """A target built anew for each connection: ``factory(connection)``,
    given its memory account (``connection.account``, limits.Account),
    the address it reached (``local_address``), the server's SSL
    configuration (``ssl_config``) and the callbacks for its end
    (``on_close``)."""

    def __init__(self, factory):
        self.factory = factory


class Reporter:
    """Log lines about clients, each kind at most once per interval."""

    def __init__(self, interval=REPORT_INTERVAL):
        self._interval = interval
        self._last = {}
        self._since = collections.Counter()

    def warning(self, kind, message, *args):
        now = time.monotonic()
        if now - self._last.get(kind, -self._interval) < self._interval:
            self._since[kind] += 1
            return
        self._last[kind] = now
        repeated = self._since.pop(kind, 0)
        if repeated:
            message += f" (and {repeated} more like it since)"
        logger.warning(message, *args)


class Connection:
    """One client's connection: its streams, memory and unread replies."""

    def __init__(self, reader, writer, account, ssl_config=None):
        self.reader = reader
        self.writer = writer
        self.account = account
        self.ssl_config = ssl_config
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.local_address = (writer.get_extra_info("sockname")
                              or ("127.0.0.1", 0))[0]
        self.on_close = []  # called when the connection ends
        self.last_active = time.monotonic()
        self.aborted = False
        self.busy = False  # a call of its is running
        self.largest_reply = 0
        self._written = 0
        self._reply_ends = collections.deque()  # stream offsets

    def write(self, reply):
        """Send ``reply``, a line in pieces of bytes."""
        start = self._written
        for piece in reply:
            self.writer.write(piece)
            self._written += len(piece)
        self._reply_ends.append(self._written)
        self.largest_reply = max(self.largest_reply, self._written - start)

    def unread_replies(self):
        """How many replies are still in this process's send buffer; what
        has been handed to the system is given back to the account."""
        sent = self._written - self.writer.transport.get_write_buffer_size()
        while self._reply_ends and self._reply_ends[0] <= sent:
            self._reply_ends.popleft()
        self.account.track("replies", self._written - sent)
        return len(self._reply_ends)

    def unsent_bytes(self):
        return self.writer.transport.get_write_buffer_size()

    def abort(self):
        """Close at once, dropping what is unsent."""
        self.aborted = True
        self.writer.transport.abort()


class ClientGone(Exception):
    """The connection is to end, for a reason already reported."""


class GuardedServer(Server):
    """sipyco's Server with the guards of this module's docstring.

    ``targets`` maps names to objects (served as Surfaces) or to
    PerConnection factories.
    """

    def __init__(self, targets, limits, description=None,
                 allow_parallel=False):
        super().__init__(targets, description, builtin_terminate=True,
                         allow_parallel=allow_parallel)
        self.limits = limits
        self.budget = MemoryBudget(limits)
        self.report = Reporter()
        self._surfaces = {name: target if isinstance(target, PerConnection)
                          else Surface(target)
                          for name, target in targets.items()}
        self._connections = {}  # task: Connection
        self.ssl_config = None

    async def start(self, host, port, ssl_config=None):
        self.ssl_config = ssl_config  # the bulk target's channels use it
        await super().start(host, port, ssl_config)

    # Connections: accepted, served, ended; sipyco's stop() cancels them.

    def _handle_connection(self, reader, writer):
        keepalive.set_keepalive(writer.get_extra_info("socket"))
        if len(self._open()) >= self.limits.max_connections:
            self._make_room()
        connection = Connection(reader, writer, self.budget.account(),
                                self.ssl_config)
        task = asyncio.ensure_future(self._serve(connection))
        self._connections[task] = connection
        self._client_tasks.add(task)
        task.add_done_callback(self._client_done)

    def _open(self):
        return [connection for connection in self._connections.values()
                if not connection.aborted]

    def _make_room(self):
        # The idlest of those not waiting for a call to end: an
        # experiment's long call keeps its connection.
        idlest = min(self._open(), key=lambda connection: (
            connection.busy, connection.last_active))
        self.report.warning(
            "evicted", "%d connections, the most allowed "
            "(--max-connections): closed the one from %s, idle for %.1f s",
            self.limits.max_connections, idlest.peer,
            time.monotonic() - idlest.last_active)
        idlest.abort()

    def _client_done(self, task):
        self._connections.pop(task, None)
        super()._client_done(task)

    async def _serve(self, connection):
        try:
            await self._converse(connection)
        except ClientGone:
            pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as \
                error:
            logger.debug("the client at %s left: %s", connection.peer,
                         error or type(error).__name__)
        finally:
            for callback in connection.on_close:
                callback()
            held = connection.account.held
            connection.account.release()
            if held or connection.unsent_bytes():
                connection.abort()
            else:
                connection.writer.close()
            await self._closed(connection)

    @staticmethod
    async def _closed(connection):
        """Wait for the end of the connection, and give back its memory.

        asyncio keeps the error that ended a connection (a client gone
        mid-reply: BrokenPipeError) until it is asked for, then logs it
        with a traceback; the traceback holds the frames that were
        sending, and the reply with them, until Python's cycle collector
        runs. So ask for it, and collect what a large reply left."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.writer.wait_closed(), 1.0)
        if connection.largest_reply > LARGE_BLOCK:
            gc.collect()
            give_back_memory()

    async def _converse(self, connection):
        target, encode, decode = await self._handshake(connection)
        while True:
            line = await self._request_line(connection)
            if not line:
                return
            try:
                request = decode(line.decode())
            except Exception as error:  # anything a malformed line raises
                self.report.warning(
                    "malformed", "closed the connection from %s: a malformed "
                    "request (%s: %s)", connection.peer,
                    type(error).__name__, str(error)[:80])
                return
            connection.busy = True
            try:
                reply = await self._reply(target, request, encode)
            finally:
                connection.busy = False
            if reply is None:  # a SystemExit: the server stops
                return
            await self._send(connection, reply, encode)

    # The handshake: sipyco's, with the pyon v2 gate.

    async def _handshake(self, connection):
        timeout = self.limits.handshake_timeout
        if await self._line(connection, timeout, "sent no greeting") \
                != GREETING:
            self.report.warning("not sipyco", "closed the connection from "
                                "%s: not a sipyco client", connection.peer)
            raise ClientGone
        connection.write([self._identification()])
        line = await self._line(connection, timeout, "named no target")
        try:
            target_name, *features = line.decode().rstrip("\n").split(" ")
        except UnicodeDecodeError:
            self.report.warning("not sipyco", "closed the connection from "
                                "%s: not a sipyco client", connection.peer)
            raise ClientGone from None
        self._check_features(connection, features)
        encode, decode = ((pyon.encode, pyon.decode) if "pyon_v2" in features
                          else (pyon_v1.encode, pyon_v1.decode))
        target = self._target(connection, target_name)
        methods = {*target, "terminate"}
        connection.write([(encode(methods) + "\n").encode()])
        return target, encode, decode

    def _identification(self):
        # JSON, which both pyon versions decode, as sipyco sends it.
        return (pyon.encode({"targets": sorted(self.targets),
                             "description": self.description,
                             "features": ["pyon_v2"]}) + "\n").encode()

    async def _line(self, connection, timeout, silence):
        """The connection's next line (empty at its end), within
        ``timeout`` seconds (None: any time); ``silence`` says what the
        client did not do, if it times out."""
        try:
            line = await asyncio.wait_for(connection.reader.readline(),
                                          timeout)
        except asyncio.TimeoutError:
            self.report.warning(
                silence, "closed the connection from %s: it %s for %g s",
                connection.peer, silence, timeout)
            raise ClientGone from None
        except (ValueError, asyncio.LimitOverrunError):
            self.report.warning(
                "long line", "closed the connection from %s: a line "
                "longer than sipyco's 4 MiB", connection.peer)
            raise ClientGone from None
        connection.last_active = time.monotonic()
        return line

    def _check_features(self, connection, features):
        unknown = sorted(set(features) - {"pyon_v2"})
        if unknown:
            self.report.warning(
                "features", "closed the connection from %s: it asks for "
                "%s, which this server does not offer", connection.peer,
                ", ".join(map(repr, unknown))[:200])
            raise ClientGone
        if "pyon_v2" not in features and not self.limits.allow_pyon_v1:
            self.report.warning(
                "pyon v1", "refused the client at %s: it does not announce "
                "pyon_v2 (a sipyco older than 1.10), and its requests "
                "would be decoded with eval; --allow-pyon-v1 serves such "
                "clients, to anyone who reaches this port",
                connection.peer)
            raise ClientGone

    def _target(self, connection, name):
        target = self._surfaces.get(name)
        if target is None:
            self.report.warning(
                "target", "closed the connection from %s: no target %r "
                "here", connection.peer, str(name)[:80])
            raise ClientGone
        if isinstance(target, PerConnection):
            return Surface(target.factory(connection))
        return target

    # Requests and replies.

    async def _request_line(self, connection):
        """The next request; empty at the connection's end. A connection
        that holds memory may idle for idle_timeout, others for ever."""
        connection.unread_replies()  # gives back what has been sent
        if not connection.account.held:
            return await self._line(connection, None, "")
        return await self._line(
            connection, self.limits.idle_timeout,
            "sent nothing while holding memory (--idle-timeout)")

    async def _reply(self, target, request, encode):
        """The reply to ``request``, encoded as sipyco's server encodes it,
        in pieces of bytes; None when a call raised SystemExit."""
        try:
            self._check(target, request)
            result = await self._process_action(target, request)
            self._check_result(request, result)
            if encode is pyon.encode and is_plain_array(result):
                return array_reply(result)
            return [(encode({"status": "ok", "ret": result})
                     + "\n").encode()]
        except asyncio.CancelledError:
            raise
        except SystemExit:
            self._terminate_request.set()
            return None
        except Exception:
            return [(encode({"status": "failed",
                             "exception": current_exc_packed()})
                     + "\n").encode()]

    def _check(self, target, request):
        if not isinstance(request, dict) or "action" not in request:
            raise ValueError("a request is a dict with an action")
        if request["action"] != "call":
            return
        name = request.get("name")
        if name != "terminate" and name not in target:
            raise AttributeError(f"{name!r} is not a method this controller "
                                 "serves")
        if not (isinstance(request.get("args"), (list, tuple))
                and isinstance(request.get("kwargs"), dict)):
            raise TypeError("a call's args are a list, its kwargs a dict")

    def _check_result(self, request, result):
        nbytes = getattr(result, "nbytes", 0)
        if isinstance(nbytes, int):  # an array: checked before encoding
            check_array(self.limits, nbytes,
                        f"the array {request.get('name')}() returned")

    async def _send(self, connection, reply, encode):
        """Send ``reply``, once the client has read all but a few of the
        replies before it; a client that reads none for idle_timeout is
        closed."""
        size = sum(map(len, reply))
        try:
            if size > SMALL_REPLY:
                connection.account.hold(
                    "replies", connection.unsent_bytes() + size, "a reply")
        except ValueError:  # over a memory limit: say so instead
            reply = [(encode({"status": "failed",
                              "exception": current_exc_packed()})
                      + "\n").encode()]
        connection.write(reply)
        deadline = time.monotonic() + self.limits.idle_timeout
        while connection.unread_replies() > self.limits.max_unread_replies:
            if time.monotonic() > deadline:
                self.report.warning(
                    "unread", "closed the connection from %s: it left %d "
                    "replies unread for %g s (--max-unread-replies)",
                    connection.peer, connection.unread_replies(),
                    self.limits.idle_timeout)
                raise ClientGone
            await asyncio.sleep(UNREAD_POLL)


def is_plain_array(result):
    """A NumPy array that pyon encodes as its raw samples."""
    return isinstance(result, numpy.ndarray) and result.dtype.kind != "O"


def array_reply(array):
    """The reply line that pyon v2 encodes for ``array`` as a result, in
    three pieces: its samples' base64 is never copied into a string, which
    would hold several times the array at once."""
    stand_in = {"status": "ok", "ret": {
        "__jsonclass__": ["nparray", [list(array.shape), array.dtype.str,
                                      ""]]}}
    line = json.dumps(stand_in, separators=(",", ":"))
    split = line.rindex('""') + 1  # between the quotes of the samples
    samples = base64.b64encode(numpy.ascontiguousarray(array).data)
    return [line[:split].encode(), samples, line[split:].encode() + b"\n"]


def _libc():
    """glibc, where this process runs on it; else None."""
    import ctypes

    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(None)
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


# glibc raises its mmap threshold each time a large block is freed, and
# then keeps such blocks in its heap: a controller that once moved a large
# array would hold its peak for weeks.
M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1024 * 1024


def map_large_blocks():
    """Give every block over 1 MiB a mapping of its own, returned to the
    system when it is freed."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)


def give_back_memory():
    """Return the heap's free memory to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def serve(targets, host, port, *, limits, loop, description=None,
          allow_parallel=False, ssl_config=None):
    """Serve ``targets`` on ``loop`` until the terminate RPC, Ctrl-C,
    SIGTERM or SIGHUP, as sipyco's simple_server_loop does."""
    map_large_blocks()
    server = GuardedServer(targets, limits, description, allow_parallel)
    signals = SignalHandler()
    signals.setup()
    try:
        loop.run_until_complete(server.start(host, port, ssl_config))
        try:
            stops = [loop.create_task(signals.wait_terminate()),
                     loop.create_task(server.wait_terminate())]
            _, pending = loop.run_until_complete(asyncio.wait(
                stops, return_when=asyncio.FIRST_COMPLETED))
            for task in pending:
                task.cancel()
        finally:
            loop.run_until_complete(server.stop())
    finally:
        signals.teardown()
