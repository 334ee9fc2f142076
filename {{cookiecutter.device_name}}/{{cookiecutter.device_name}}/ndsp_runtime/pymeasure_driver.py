"""A pymeasure instrument class, served as an NDSP's driver.

``served_class("pymeasure.instruments.keithley.Keithley2400")`` is a
driver class whose RPC methods are built from the pymeasure class alone,
when the controller starts: each control becomes ``get_<name>`` and
``set_<name>`` (only the half it has), each public method keeps its
signature, a channel's members take its prefix (``ch_2_set_frequency``),
deprecated members are left out, and one named like the NDSP's own
(``ping``, ``close``, ``open``) is served as ``instrument_<name>``.

pymeasure is synchronous and its adapters have no lock: every call to
the instrument runs, one at a time, in the driver's one worker thread,
behind coroutine methods, which the controller serves in parallel, so
``ping()`` (answered here, not by the instrument) and ``terminate`` stay
prompt during a long measurement.
"""

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import inspect
import logging
import numbers
import queue
import threading
import warnings

from . import pymeasure_classes

logger = logging.getLogger(__name__)

# The NDSP's own methods: a member of the same name is renamed.
RESERVED = frozenset({"ping", "close", "open"})
RENAMED_PREFIX = "instrument_"
# pymeasure's plumbing, not the instrument's: building children, and the
# property factories.
NOT_SERVED = frozenset({"add_child", "remove_child", "control",
                        "measurement", "setting", "get_channels",
                        "get_channel_pairs"})
# Annotations sipyco names and the client types arguments with.
PLAIN_TYPES = (bool, int, float, str)
# Seconds close() waits for a running call before it closes the
# connection under it.
CLOSE_TIMEOUT = 1.0
# Format codes of set commands, and the type each sends.
FORMAT_TYPES = {"d": int, "i": int, "g": float, "f": float, "e": float,
                "G": float, "E": float, "F": float}


@dataclasses.dataclass(frozen=True)
class Method:
    """One RPC method: its name, what it does (``get``, ``set`` or
    ``call`` of ``member``), on the instrument or a channel (its
    attribute), with its signature and docstring."""

    name: str
    kind: str
    member: str
    channel: object
    signature: inspect.Signature
    doc: str


def rpc_methods(instrument_class):
    """The served methods of ``instrument_class``, from the class alone,
    by name."""
    methods = list(_members(instrument_class, None, ""))
    for channel in pymeasure_classes.channels(instrument_class):
        methods += _members(channel.cls, channel.attribute,
                            channel.attribute + "_")
    return sorted(methods, key=lambda method: method.name)


def _members(owner, channel, prefix):
    for control in pymeasure_classes.controls(owner):
        if not control.deprecated:
            yield from _control_methods(control, channel, prefix)
    controls = {control.name for control in pymeasure_classes.controls(owner)}
    for name in sorted(dir(owner)):
        if name.startswith("_") or name in controls or name in NOT_SERVED:
            continue
        attribute = inspect.getattr_static(owner, name, None)
        if not inspect.isfunction(attribute):
            continue  # static and class methods, properties, classes
        doc = inspect.getdoc(attribute) or ""
        if pymeasure_classes.is_deprecated(name, doc):
            continue
        served = RENAMED_PREFIX + name if name in RESERVED else name
        if served != name:
            doc += (f"\n\n(pymeasure's {name}(), renamed: {name}() is the "
                    "NDSP's own.)")
        yield Method(prefix + served, "call", name, channel,
                     _rpc_signature(attribute),
                     doc or f"pymeasure's {name}().")


def _control_methods(control, channel, prefix):
    kind = _value_type(control)
    about = _about(control)
    if control.readable:
        yield Method(
            f"{prefix}get_{control.name}", "get", control.name, channel,
            inspect.Signature([_self()], return_annotation=kind or
                              inspect.Signature.empty),
            (control.doc or f"Get {control.name}.") + about)
    if control.writable:
        value = inspect.Parameter(
            "value", inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=kind or inspect.Parameter.empty)
        yield Method(
            f"{prefix}set_{control.name}", "set", control.name, channel,
            inspect.Signature([_self(), value]),
            (control.doc or f"Set {control.name}.") + about)


def _self():
    return inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _about(control):
    """The allowed values and the commands, for the docstring."""
    lines = []
    if control.values is not None and control.values != ():
        shown = (list(control.values) if isinstance(control.values, dict)
                 else control.values)
        lines.append(f"Allowed values: {shown!r}.")
    commands = [command for command in (control.get_command,
                                        control.set_command) if command]
    lines.append("Command: " + ", ".join(f"``{command}``"
                                         for command in commands) + ".")
    return "\n\n" + "\n".join(lines)


def _value_type(control):
    """The type a control's value has, from its declaration; None where
    it does not say."""
    values = control.values
    if isinstance(values, dict) and values:
        types = {type(key) for key in values}
    elif isinstance(values, (list, tuple)) and values:
        types = {type(value) for value in values}
    else:
        types = set()
    if types and types <= {int, float}:
        # A range or set of numbers: float if any is, or if sent as one.
        if float in types or _format_type(control) is float:
            types = {float}
    if len(types) == 1 and next(iter(types)) in PLAIN_TYPES:
        kind = next(iter(types))
        if kind is int and not isinstance(values, dict) and \
                _format_type(control) is float:
            return float  # a range of whole bounds, sent as %g
        return kind
    if not types:
        return _format_type(control)
    return None


def _format_type(control):
    codes = [code[-1] for code in pymeasure_classes_format(control)]
    kinds = {FORMAT_TYPES.get(code) for code in codes}
    return kinds.pop() if len(kinds) == 1 and None not in kinds else None


def pymeasure_classes_format(control):
    from .pymeasure_fake import FORMAT

    return FORMAT.findall(control.set_command or "")


def _rpc_signature(function):
    """``function``'s signature as it can go over RPC: annotations sipyco
    can name, and no parameter whose default cannot be sent (it keeps its
    own default)."""
    signature = inspect.signature(function)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.default is not inspect.Parameter.empty and \
                not _sendable(parameter.default):
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        parameters.append(parameter.replace(
            annotation=_plain(parameter.annotation)))
    return signature.replace(parameters=parameters,
                             return_annotation=_plain(
                                 signature.return_annotation))


def _plain(annotation):
    if annotation in PLAIN_TYPES or annotation in (list, dict):
        return annotation
    return inspect.Parameter.empty


def _sendable(value):
    if value is None or isinstance(value, PLAIN_TYPES):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(_sendable, value))
    return False


def plain(result):
    """A result as sipyco sends it: numpy scalars as numbers, arrays as
    arrays, pandas objects as lists and dicts, enums as their values."""
    if result is None or isinstance(result, (bool, str, bytes)):
        return result
    if isinstance(result, enum.Enum):
        return plain(result.value)
    if isinstance(result, numbers.Number) and not isinstance(result, complex):
        item = getattr(result, "item", None)
        return item() if item is not None else result
    if isinstance(result, (list, tuple)):
        return [plain(item) for item in result]
    if isinstance(result, dict):
        return {str(key): plain(value) for key, value in result.items()}
    if type(result).__module__.startswith("numpy"):
        return result
    to_dict = getattr(result, "to_dict", None)
    if type(result).__module__.startswith("pandas") and to_dict:
        if hasattr(result, "columns"):
            return {str(column): plain(list(values)) for column, values
                    in to_dict(orient="list").items()}
        return plain(list(result))
    return str(result)


@contextlib.contextmanager
def _quiet_pyvisa():
    """pyvisa logs a warning before it refuses an address it cannot
    parse: the controller's one error line says it (-v shows both)."""
    pyvisa_log = logging.getLogger("pyvisa")
    level = pyvisa_log.level
    if not pyvisa_log.isEnabledFor(logging.INFO):
        pyvisa_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        pyvisa_log.setLevel(level)


class Worker:
    """The one thread that talks to the instrument: calls run in it one at
    a time, in order. A daemon, so that a call that never ends (waiting
    for a buffer that never fills) cannot keep the controller from
    exiting."""

    def __init__(self, name):
        self.calls = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=name,
                                       daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            call = self.calls.get()
            if call is None:
                return
            function, future = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as error:
                    future.set_exception(error)

    def run(self, function):
        """``function()``'s result, awaitable."""
        future = concurrent.futures.Future()
        self.calls.put((function, future))
        return asyncio.wrap_future(future)

    def stop(self):
        self.calls.put(None)


class ServedInstrument:
    """The served driver's base: opens the instrument, runs its calls in
    one worker thread, answers ping() itself, closes it."""

    instrument_class = None
    _opens_own_device = True  # the controller hands open() -d's text

    def __init__(self, instrument, worker):
        self._instrument = instrument
        self._worker = worker
        self._closed = False

    @staticmethod
    def _add_arguments(group):
        """The device options: what pymeasure's adapter takes."""
        group.add_argument(
            "--visa-library", default="@py",
            help="pyvisa backend (default: %(default)s, pyvisa-py)")
        group.add_argument(
            "--timeout", type=float, default=None,
            help="seconds to wait for each reply (default: the class's)")
        group.add_argument(
            "--baudrate", type=int, default=None,
            help="a serial resource's baud rate (default: the class's)")
        group.add_argument(
            "--simulation-yaml", metavar="FILE", default=None,
            help="with --simulation: the pyvisa-sim YAML of the "
                 "instrument, for a more faithful one")

    @classmethod
    async def open(cls, address, options):
        """The instrument at ``address`` (None: simulated), opened in the
        worker thread."""
        worker = Worker(cls.__name__)
        try:
            instrument = await worker.run(
                lambda: cls._instrument_at(address, options))
        except BaseException:
            worker.stop()
            raise
        return cls(instrument, worker)

    @classmethod
    def _instrument_at(cls, address, options):
        # pymeasure warns its developers while a class starts (a member
        # deprecated, SCPI support unknown): -v shows it, not stderr,
        # where a controller's error is one line.
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            instrument = cls._opened(address, options)
        for warning in warned:
            logger.info("pymeasure: %s", warning.message)
        return instrument

    @classmethod
    def _opened(cls, address, options):
        if address is None:
            from . import pymeasure_fake

            return pymeasure_fake.simulated_instrument(
                cls.instrument_class, options.simulation_yaml)
        settings = {"visa_library": options.visa_library}
        if options.timeout is not None:
            settings["timeout"] = int(options.timeout * 1000)
        if options.baudrate is not None and address.upper().startswith(
                "ASRL"):
            settings["baud_rate"] = options.baudrate
        with _quiet_pyvisa():
            return cls.instrument_class(address, **settings)

    async def ping(self):
        """Whether the instrument is open: answered by the controller,
        without a call to the instrument, so it stays prompt during a long
        measurement."""
        return not self._closed

    async def close(self):
        """Close the instrument's connection, then the worker: in the
        worker, after the call it runs, or at once if that call does not
        end within CLOSE_TIMEOUT seconds."""
        if self._closed:
            return
        self._closed = True
        closing = self._worker.run(self._instrument.adapter.close)
        try:
            await asyncio.wait_for(asyncio.shield(closing), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            logger.warning("a call to the instrument is still running: "
                           "closing its connection anyway")
            self._instrument.adapter.close()
        finally:
            self._worker.stop()

    async def _call(self, channel, action):
        """``action(target)`` in the worker, the target being the
        instrument or its channel; the result made plain."""
        def run():
            target = (self._instrument if channel is None
                      else getattr(self._instrument, channel))
            try:
                return plain(action(target))
            except Exception:
                # A late reply must never answer the next call.
                flush = getattr(self._instrument.adapter,
                                "flush_read_buffer", None)
                if flush is not None:
                    try:
                        flush()
                    except Exception:
                        pass
                raise
        return await self._run(run)

    async def _get(self, channel, name):
        """The instrument's (or its channel's) property ``name``."""
        return await self._call(channel,
                                lambda target: getattr(target, name))

    async def _set(self, channel, name, value):
        """Set the property ``name`` to ``value``."""
        await self._call(channel,
                         lambda target: setattr(target, name, value))

    async def _invoke(self, channel, name, *args, **kwargs):
        """Call the method ``name`` with the arguments."""
        return await self._call(
            channel, lambda target: getattr(target, name)(*args, **kwargs))

    async def _run(self, function):
        if self._closed:
            raise ConnectionError("the instrument is closed")
        return await self._worker.run(function)


def _rpc_function(method):
    """The coroutine method that serves ``method``."""
    member, channel = method.member, method.channel
    if method.kind == "get":
        async def served(self):
            return await self._get(channel, member)
    elif method.kind == "set":
        async def served(self, value):
            await self._set(channel, member, value)
    else:
        signature = method.signature

        async def served(self, *args, **kwargs):
            positional, keywords = call_arguments(
                signature, self, *args, **kwargs)
            return await self._invoke(channel, member, *positional,
                                      **keywords)
    served.__name__ = served.__qualname__ = method.name
    served.__doc__ = method.doc
    served.__signature__ = method.signature
    served.__annotations__ = {
        name: parameter.annotation
        for name, parameter in method.signature.parameters.items()
        if parameter.annotation is not inspect.Parameter.empty}
    if method.signature.return_annotation is not inspect.Signature.empty:
        served.__annotations__["return"] = \
            method.signature.return_annotation
    return served


def call_arguments(signature, *args, **kwargs):
    """The arguments of an RPC call, bound to the served ``signature``
    (self first), as the pymeasure method takes them: by name, so that a
    parameter left out of the RPC signature keeps its own default (by
    position where ``*args`` follows)."""
    bound = signature.bind(*args, **kwargs)
    parameters = list(signature.parameters.values())[1:]
    by_position = any(parameter.kind is inspect.Parameter.VAR_POSITIONAL
                      for parameter in parameters)
    positional, keywords = [], {}
    for parameter in parameters:
        if parameter.name not in bound.arguments:
            continue
        value = bound.arguments[parameter.name]
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            positional += value
        elif parameter.kind is inspect.Parameter.KEYWORD_ONLY or not (
                by_position or
                parameter.kind is inspect.Parameter.POSITIONAL_ONLY):
            keywords[parameter.name] = value
        else:
            positional.append(value)
    return positional, keywords


def served_class(dotted_path, class_name=None):
    """The driver class that serves the pymeasure class ``dotted_path``."""
    instrument_class = pymeasure_classes.load(dotted_path)
    name = class_name or instrument_class.__name__
    namespace = {method.name: _rpc_function(method)
                 for method in rpc_methods(instrument_class)}
    summary = (inspect.getdoc(instrument_class) or "").split("\n\n")[0]
    namespace.update(
        instrument_class=instrument_class,
        __doc__=f"pymeasure's {dotted_path}, served.\n\n{summary}".strip(),
        __module__=f"{__name__}.served")
    return type(name, (ServedInstrument,), namespace)
