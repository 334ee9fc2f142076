"""Large arrays to and from the controller: on a binary channel, or in
chunks of pyon.

sipyco's server reads a request of at most 4 MiB, its synchronous Client
reads a long reply in quadratic time, and pyon's text costs seconds for
80 MB: one call cannot carry a waveform of half a million samples, and a
trace of ten million takes seconds to come back. So, for any driver
method that takes or returns an array:

- a controller whose driver has such methods (``array_methods``) serves,
  beside the driver, a second target, ``<name>_bulk``: a ``BulkSession``
  per connection. There an upload is staged, and handed to the driver
  method only once complete; an array a method returns is kept. The bytes
  travel on a one-time binary channel (channel.py: raw bytes, a token,
  the address the connection reached, TLS under --ssl), or in chunks of
  pyon below the limit, each checked (order, dtype, length). A
  connection that ends mid-upload takes what it staged with it: the
  driver never sees half an array;
- ``upload()`` and ``download()`` below do that, over sipyco's
  ``AsyncioClient`` (which reads replies in linear time) and the channel
  where it can be had (``path``).

The client (aqcli_<name>) uses them; so can an experiment or a script,
given the controller's host and port::

    from <name>.ndsp_runtime.bulk import download, upload

    upload("localhost", 3300, "upload", waveform)
    trace = download("localhost", 3300, "acquire", [1_000_000])
"""

import asyncio
import functools
import inspect
import logging
from ssl import SSLError

import numpy

from . import channel
from .limits import check_array
from .surface import remote_methods

logger = logging.getLogger(__name__)

# The dtype kinds of numbers: bool, int, unsigned, float, complex; what
# pyon carries as raw samples.
NUMBERS = "biufc"
# The bulk target is the driver's target name and this.
SUFFIX = "_bulk"
# Raw bytes per upload chunk: base64 and pyon keep the request line below
# the server's 4 MiB.
UPLOAD_CHUNK_BYTES = 2 * 1024 * 1024
# Raw bytes per download chunk: well below AsyncioClient's 100 MiB line.
DOWNLOAD_CHUNK_BYTES = 16 * 1024 * 1024


def takes_or_returns_array(method):
    """Whether ``method`` is annotated to take or return a NumPy array."""
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return False
    return signature.return_annotation is numpy.ndarray or any(
        parameter.annotation is numpy.ndarray
        for parameter in signature.parameters.values())


def array_methods(driver):
    """The names of the driver's methods that take or return an array:
    those the bulk target serves, and that the client moves through it."""
    return [name for name in remote_methods(driver)
            if takes_or_returns_array(getattr(driver, name))]


class BulkSession:
    """Staged uploads and kept results for one connection's calls, held
    in its memory account (ndsp_runtime.limits): an array over the
    controller's limits is refused before it is staged or kept."""

    def __init__(self, driver, account, channels=None):
        self._driver = driver
        self._account = account
        self._channels = channels  # channel.Channels, or None: no channel
        self._methods = frozenset(remote_methods(driver))
        self._staged = None  # (array, samples received, next chunk index)
        self._upload = None  # the staged upload's channel.Offer
        self._result = None

    @classmethod
    def served(cls, driver, connection):
        """The session of one connection to the controller's server: its
        channels on the address that connection reached, with the
        server's SSL configuration, idle for at most --idle-timeout, and
        ended with the connection."""
        channels = channel.Channels(connection.local_address,
                                    connection.ssl_config,
                                    connection.account.limits.idle_timeout)
        connection.on_close.append(channels.cancel)
        return cls(driver, connection.account, channels)

    def _method(self, name):
        if name not in self._methods:
            raise AttributeError(f"{name!r} is not a method this "
                                 "controller serves")
        return getattr(self._driver, name)

    def begin(self, length: int, dtype: str):
        """Stage an upload of ``length`` samples of ``dtype``; a staged
        one not committed is dropped."""
        if isinstance(length, bool) or not isinstance(length, int) \
                or length < 0:
            raise ValueError(f"length must be a whole number of samples, "
                             f"not {length!r}")
        kind = numpy.dtype(dtype)
        if kind.kind not in NUMBERS:
            raise TypeError(f"{kind} is not a numeric dtype")
        self._drop_staged()
        what = f"an upload of {length} samples of {kind}"
        check_array(self._account.limits, length * kind.itemsize, what)
        self._account.hold("upload", length * kind.itemsize, what)
        self._staged = (numpy.empty(length, kind), 0, 0)

    def offer_upload(self, length: int, dtype: str):
        """Stage an upload of ``length`` samples of ``dtype``, and offer a
        one-time binary channel for its bytes: [port, token (hex)]. Then
        commit() as after chunks."""
        if self._channels is None:
            raise RuntimeError("this connection offers no binary channel")
        self.begin(length, dtype)
        self._upload = self._channels.offer(self._staged[0], receive=True)
        return [self._upload.port, self._upload.token.hex()]

    def chunk(self, index: int, data):
        """Add chunk ``index`` (0, 1, ...) of the staged upload."""
        if self._staged is None:
            raise RuntimeError("no upload is staged: call begin() first")
        if self._upload is not None:
            raise RuntimeError("this upload comes on its binary channel")
        array, received, expected = self._staged
        if index != expected:
            raise ValueError(f"chunk {index} arrived where chunk "
                             f"{expected} was expected")
        if not isinstance(data, numpy.ndarray) or data.ndim != 1:
            raise TypeError("a chunk must be a one-dimensional array")
        if data.dtype != array.dtype:
            raise TypeError(f"chunk {index} is {data.dtype}, the upload "
                            f"is {array.dtype}")
        if received + len(data) > len(array):
            raise ValueError(f"chunk {index} goes past the {len(array)} "
                             "samples staged")
        array[received:received + len(data)] = data
        self._staged = (array, received + len(data), expected + 1)

    async def commit(self, method: str, args: list, kwargs: dict,
                     parameter: str = ""):
        """Call ``method`` with the complete staged array as its first
        argument (or as ``parameter``); return what it returns."""
        if self._staged is None:
            raise RuntimeError("no upload is staged: call begin() first")
        array, received, _ = self._staged
        if self._upload is not None and self._upload.complete.is_set():
            received = len(array)
        self._drop_staged()  # committed or refused, it is used once
        if received != len(array):
            raise ValueError(f"the upload holds {received} of its "
                             f"{len(array)} samples: nothing was passed "
                             "to the driver")
        if parameter:
            return await _called(self._method(method), args,
                                 dict(kwargs, **{parameter: array}))
        return await _called(self._method(method), [array, *args], kwargs)

    async def call(self, method: str, args: list, kwargs: dict):
        """Call ``method`` and keep the array it returns, for fetch();
        return its length and dtype."""
        self._drop_result()
        result = numpy.ascontiguousarray(
            await _called(self._method(method), args, kwargs))
        if result.ndim != 1:
            raise TypeError(f"{method} returned no one-dimensional array")
        what = f"the array {method}() returned"
        check_array(self._account.limits, result.nbytes, what)
        self._account.hold("result", result.nbytes, what)
        self._result = result
        return len(result), result.dtype.str

    async def offer_download(self, method: str, args: list, kwargs: dict):
        """Call ``method``, keep the array it returns (for fetch() too),
        and offer it on a one-time binary channel: [port, token (hex),
        length, dtype]."""
        if self._channels is None:
            raise RuntimeError("this connection offers no binary channel")
        length, dtype = await self.call(method, args, kwargs)
        offer = self._channels.offer(self._result, receive=False)
        return [offer.port, offer.token.hex(), length, dtype]

    def fetch(self, start: int, stop: int):
        """Samples ``start`` to ``stop`` of the array kept by call()."""
        if self._result is None:
            raise RuntimeError("no result is kept: call call() first")
        for bound in (start, stop):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise TypeError(f"start and stop are sample numbers, not "
                                f"{bound!r}")
        return self._result[start:stop]

    def _drop_staged(self):
        self._staged = None
        if self._upload is not None:
            self._upload.cancel()
            self._upload = None
        self._account.release("upload")

    def _drop_result(self):
        self._result = None
        self._account.release("result")


async def _called(method, args, kwargs):
    result = method(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


class ControllerUnreachable(ConnectionError):
    """No controller of this device answered: nothing listens, something
    else answers, or the SSL handshake failed. Unlike a ConnectionError
    that the driver raises, and the controller passes on."""


# Seconds to connect, the SSL handshake and sipyco's greeting included
# (not the calls: those take what the driver takes).
CONNECT_TIMEOUT = 10.0


def unreachable(host, port, error, timeout=CONNECT_TIMEOUT):
    """The ControllerUnreachable for ``error``, raised while connecting to
    host:port: it names them and says why, in words."""
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        why = f"no answer within {timeout} s"
    elif isinstance(error, SSLError):
        why = f"the SSL handshake failed: {error}"
    elif isinstance(error, OSError):  # refused, reset, no route to host
        why = str(error)
    elif isinstance(error, EOFError):
        why = ("it closed the connection during sipyco's handshake (as a "
               "controller with --ssl does for a client it does not trust)")
    else:  # what it sent is no sipyco greeting
        why = "what answers there is no sipyco controller"
    return ControllerUnreachable(f"{host}:{port}: {why}")


def served_targets(client, host, port):
    """The targets that a sipyco client's server says it serves, once it
    is known to speak pyon v2; else ControllerUnreachable."""
    # sipyco keeps this private. Without pyon v2 it decodes the server's
    # replies with eval; a sipyco without the attribute requires pyon v2.
    features = getattr(client, f"_{type(client).__name__}__features",
                       "pyon_v2")
    if "pyon_v2" not in features.split():
        raise ControllerUnreachable(
            f"{host}:{port}: it does not offer pyon_v2 (an older sipyco?), "
            "without which its replies would be decoded with eval")
    targets, _ = client.get_rpc_id()
    if not isinstance(targets, list) \
            or not all(isinstance(target, str) for target in targets):
        raise ControllerUnreachable(f"{host}:{port}: what answers there is "
                                    "no sipyco controller")
    return targets


async def _connected(host, port, ssl_config, timeout, target):
    # Imported here: the device tests import this module without sipyco.
    from sipyco.pc_rpc import AsyncioClient

    client, greeted = AsyncioClient(), False
    try:
        await asyncio.wait_for(
            _greeted(client, host, port, ssl_config, target), timeout)
        greeted = True
    except ControllerUnreachable:
        raise
    except Exception as error:
        raise unreachable(host, port, error, timeout) from error
    finally:
        if not greeted:
            await _closed(client)
    return client


async def _closed(client):
    """Close the connection; one that the other end reset or never
    completed is closed too, and what the caller gets is unchanged."""
    try:
        await client.close_rpc()
    except OSError:
        pass


async def _greeted(client, host, port, ssl_config, target):
    await client.connect_rpc(host, port, None, ssl_config)
    served = served_targets(client, host, port)
    if target is None:  # the one bulk target served there
        bulk = [name for name in served if name.endswith(SUFFIX)]
        target = bulk[0] if len(bulk) == 1 else None
    if target not in served:
        raise ControllerUnreachable(
            f"{host}:{port}: it serves {', '.join(served)}: no target for "
            "arrays (its driver has no method that takes or returns one)")
    await client.select_rpc_target(target)


# How upload and download move an array: "auto", the binary channel
# where the controller offers it and it can be reached, else chunks of
# pyon; "channel" or "pyon" alone.
PATHS = ("auto", "channel", "pyon")


async def upload_async(host, port, method, data, args=(), kwargs=None,
                       *, parameter="", ssl_config=None, progress=None,
                       timeout=CONNECT_TIMEOUT, target=None, path="auto"):
    """Call the driver's ``method`` with the array ``data`` as its first
    argument (or as the keyword argument ``parameter``), then ``args`` and
    ``kwargs``; ``data`` travels on a binary channel or in chunks of pyon
    below sipyco's limit (``path``: PATHS), and ``progress(samples,
    length)`` follows it. Return what the method returns. A controller
    that does not answer within ``timeout`` seconds, or cannot be reached,
    raises ControllerUnreachable."""
    data = numpy.ascontiguousarray(data)
    if data.ndim != 1:
        raise ValueError("upload takes a one-dimensional array")
    client = await _connected(host, port, ssl_config, timeout, target)
    try:
        if path == "pyon" or not await _sent_on_channel(
                client, host, data, ssl_config, progress, timeout, path):
            await _sent_in_chunks(client, data, progress)
        return await client.commit(method, list(args), dict(kwargs or {}),
                                   parameter)
    finally:
        await _closed(client)


async def _sent_on_channel(client, host, data, ssl_config, progress,
                           timeout, path):
    """Whether ``data`` went on a binary channel; False where the
    controller offers none, or it cannot be reached (with ``path``
    "auto"; else the error)."""
    try:
        port, token = _checked_offer(
            await client.offer_upload(len(data), data.dtype.str), 2)
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(
                channel.send, host, port, token, data, ssl_config, timeout,
                _in_samples(progress, data.itemsize)))
    except (AttributeError, OSError) as error:
        _fall_back(error, path, "goes")
        return False
    logger.info("uploaded %d bytes on the binary channel", data.nbytes)
    return True


async def _sent_in_chunks(client, data, progress):
    step = max(1, UPLOAD_CHUNK_BYTES // data.itemsize)
    await client.begin(len(data), data.dtype.str)
    for index, start in enumerate(range(0, len(data), step)):
        await client.chunk(index, data[start:start + step])
        if progress:
            progress(min(start + step, len(data)), len(data))


async def download_async(host, port, method, args=(), kwargs=None, *,
                         ssl_config=None, progress=None,
                         timeout=CONNECT_TIMEOUT, target=None, path="auto"):
    """The array that the driver's ``method`` returns for ``args`` and
    ``kwargs``, on a binary channel or in chunks of pyon, each checked
    (``path``: PATHS); ``progress(samples, length)`` follows it.
    Connecting as upload_async() does."""
    client = await _connected(host, port, ssl_config, timeout, target)
    try:
        offer = None if path == "pyon" else await _download_offer(
            client, method, args, kwargs, path)
        if offer is not None:
            return await _received(client, host, offer, ssl_config,
                                   progress, timeout, path)
        result = _result_for(await client.call(method, list(args),
                                               dict(kwargs or {})))
        return await _fetched(client, result, progress)
    finally:
        await _closed(client)


async def _download_offer(client, method, args, kwargs, path):
    """The controller's offer of ``method``'s array on a channel; None
    where it offers none (with ``path`` "auto"; else the error)."""
    try:
        return await client.offer_download(method, list(args),
                                           dict(kwargs or {}))
    except AttributeError as error:
        _fall_back(error, path, "comes")
        return None


async def _received(client, host, offer, ssl_config, progress, timeout,
                    path):
    """The offered array, from its channel, or (with ``path`` "auto",
    where the channel cannot be reached) in chunks of what was kept."""
    port, token, *shape = _checked_offer(offer, 4)
    result = _result_for(shape)
    try:
        array = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(
                channel.receive, host, port, token, result.dtype,
                result.shape, ssl_config, timeout,
                _in_samples(progress, result.itemsize)))
    except OSError as error:
        _fall_back(error, path, "comes")
        return await _fetched(client, result, progress)
    logger.info("downloaded %d bytes on the binary channel", array.nbytes)
    return array


async def _fetched(client, result, progress):
    """``result`` filled with the kept array, read in chunks."""
    step = max(1, DOWNLOAD_CHUNK_BYTES // result.itemsize)
    for start in range(0, len(result), step):
        stop = min(start + step, len(result))
        result[start:stop] = _checked_chunk(
            await client.fetch(start, stop), result.dtype, stop - start)
        if progress:
            progress(stop, len(result))
    return result


def _checked_offer(offer, size):
    """[port, token, ...] as the controller offered them: a port, and a
    token of channel.TOKEN_BYTES given in hex."""
    try:
        port, token, *rest = offer
        token = bytes.fromhex(token)
    except (TypeError, ValueError):
        token = None
    if token is None or len(offer) != size or len(token) != \
            channel.TOKEN_BYTES or isinstance(port, bool) \
            or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"the controller sent {_shown(offer)} for a "
                         "channel's port and token")
    return [port, token, *rest]


def _in_samples(progress, itemsize):
    """``progress(samples, length)`` as a channel's progress in bytes."""
    if progress is None:
        return None
    return lambda done, total: progress(done // itemsize, total // itemsize)


def _fall_back(error, path, goes):
    """With ``path`` "auto", log why the array ``goes`` (or "comes") in
    chunks of pyon instead of on the channel; else raise ``error``."""
    if path != "auto":
        raise error
    if isinstance(error, AttributeError):  # no offer_* methods
        why = "the controller offers no binary channel (an older runtime)"
    else:
        why = f"the binary channel cannot be reached ({error})"
    logger.info("%s: the array %s in chunks of pyon", why, goes)


def _result_for(reply):
    """An empty array for the (length, dtype) that call() returned."""
    try:
        length, dtype = reply
        kind = numpy.dtype(dtype) if isinstance(dtype, str) else None
    except (TypeError, ValueError):
        kind = None
    if kind is None or kind.kind not in NUMBERS \
            or not isinstance(length, (int, numpy.integer)) \
            or isinstance(length, bool) or length < 0:
        raise ValueError(f"the controller sent {_shown(reply)} for an "
                         "array's length and dtype")
    return numpy.empty(length, kind)


def _checked_chunk(chunk, dtype, length):
    if not isinstance(chunk, numpy.ndarray) or chunk.dtype != dtype \
            or chunk.shape != (length,):
        raise ValueError(f"the controller sent {_shown(chunk)} where "
                         f"{length} samples of {dtype} were due")
    return chunk


def _shown(value):
    """A value from the network, described in a few words."""
    if isinstance(value, numpy.ndarray):
        return f"an array of {value.shape} {value.dtype}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def upload(*arguments, **options):
    """upload_async(), from code that runs no event loop."""
    return asyncio.run(upload_async(*arguments, **options))


def download(*arguments, **options):
    """download_async(), from code that runs no event loop."""
    return asyncio.run(download_async(*arguments, **options))
