"""The controller's life cycle, the same for every NDSP: its command line,
then open the device, check that it answers, serve it, close it.

A project's ``aqctl_<name>.py`` says only what is its own: the name, the
title and the default port, the device's options, the driver's class
(built by its ``open()``) and the fake instrument of ``--simulation``::

    CONTROLLER = Controller("acme_psu", "Acme PSU", 3300, driver=AcmePsu,
                            fake_device=FakeDevice,
                            add_device_options=add_device_options)
    main = CONTROLLER.main

The driver and the server share one event loop, made here: without
``loop=``, sipyco would serve on a fresh one and asyncio drivers would
break (artiq#1938). The driver is closed however the controller stops:
the terminate RPC, Ctrl-C, SIGTERM or SIGHUP.
"""

import argparse
import asyncio
import contextlib
import inspect
import logging
import socket

from . import limits, transports

logger = logging.getLogger(__name__)


class Controller:
    """An NDSP's controller (see the module's docstring).

    ``driver``: the class whose public methods are served; the controller
    builds it with ``driver.open(transport, options)`` (a coroutine for an
    asyncio driver), ``options`` being the device options by name.
    ``fake_device``: the class of the instrument in software behind
    --simulation, built by its ``from_options(options)``.
    ``add_device_options(group)``: adds the device's own options to an
    argparse group. ``remote_exec``: also serve sipyco's remote execution
    target, ``<name>_rexec``.

    A driver that reaches its device itself (``driver._opens_own_device``,
    as the served pymeasure classes do) is opened with
    ``driver.open(address, options)`` instead, ``address`` being -d's
    text, or None for --simulation; it adds its own device options with
    ``driver._add_arguments(group)`` and needs no ``fake_device``.
    """

    def __init__(self, name, title, default_port, *, driver,
                 fake_device=None, add_device_options=None,
                 remote_exec=False):
        self.name, self.title, self.default_port = name, title, default_port
        self.driver, self.fake_device = driver, fake_device
        self.own_device = getattr(driver, "_opens_own_device", False)
        self.add_device_options = add_device_options
        self.remote_exec = remote_exec
        self.asyncio = inspect.iscoroutinefunction(driver.ping)

    def argparser(self):
        """The command line: -d/--simulation, the device options, sipyco's
        network and verbosity options, the limits."""
        from sipyco import common_args

        parser = argparse.ArgumentParser(
            prog=f"aqctl_{self.name}",
            description="ARTIQ controller for the " + self.title)
        parser.add_argument(
            "-d", "--device", help="the device: " + transports.ADDRESS_HELP)
        parser.add_argument(
            "--simulation", action="store_true",
            help="run against a simulated device, without hardware (wins "
                 "over -d)")
        group = parser.add_argument_group(
            "device options", "each reaches the transport or the driver "
            "by name")
        if self.own_device:
            self.driver._add_arguments(group)
        else:
            transports.add_arguments(group)
        if self.add_device_options is not None:
            self.add_device_options(group)
        parser.set_defaults(device_options=[
            action.dest for action in group._group_actions])
        common_args.simple_network_args(parser, self.default_port, ssl=True)
        limits.add_arguments(parser)
        common_args.verbosity_args(parser)
        return parser

    def main(self, argv=None):
        """Run the controller with the command line ``argv`` (sys.argv)."""
        from sipyco import common_args

        parser = self.argparser()
        args = parser.parse_args(argv)
        if not (args.device or args.simulation):
            parser.error("give -d/--device, or --simulation to run without "
                         "hardware")
        common_args.init_logger_from_args(args)
        ssl_config = checked_ssl(parser, args)
        device = ("the simulated device" if args.simulation
                  else f"device {args.device!r}")
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            # Whatever fails while opening: a missing library, a wrong
            # address, a device that does not answer.
            with one_error_line(parser, f"cannot open {device}", Exception):
                driver = run(loop, self.open_driver(args))
            try:
                # Serve only a device that answers: pyvisa-py, for one,
                # opens a TCP resource where nothing listens.
                with one_error_line(parser, f"cannot open {device}",
                                    Exception):
                    check_answers(run(loop, driver.ping()))
                with one_error_line(parser,
                                    f"cannot serve on port {args.port}",
                                    OSError):
                    self.serve(driver, args, ssl_config, loop)
            finally:
                run(loop, driver.close())
                logger.info("the device is closed")
        finally:
            loop.close()

    def open_driver(self, args):
        """The driver on the device that -d names, or on its simulation;
        a coroutine for an asyncio driver."""
        options = argparse.Namespace(**{
            name: getattr(args, name) for name in args.device_options})
        if self.own_device:
            return self.driver.open(
                None if args.simulation else args.device, options)
        if self.asyncio:
            return self._open_async(args, options)
        transport = self._transport(args, options)
        try:
            return self.driver.open(transport, options)
        except BaseException:
            transport.close()
            raise

    async def _open_async(self, args, options):
        transport = await self._transport(args, options)
        try:
            return await self.driver.open(transport, options)
        except BaseException:
            await transport.close()
            raise

    def _transport(self, args, options):
        kind = "asyncio" if self.asyncio else "sync"
        if args.simulation:
            device = self.fake_device.from_options(options)
            return transports.simulated(device, kind,
                                        **vars(options))
        return transports.open_transport(args.device, kind, **vars(options))

    def targets(self, driver):
        """The RPC targets: the driver under the device's name, then the
        targets that serve it in other ways."""
        from . import bulk, server

        targets = {self.name: driver}
        if bulk.array_methods(driver):
            # Large arrays, in chunks: a session per connection, so that
            # an upload cut off ends with its connection.
            targets[self.name + bulk.SUFFIX] = server.PerConnection(
                lambda connection: bulk.BulkSession.served(driver,
                                                           connection))
        if self.remote_exec:
            targets[self.name + "_rexec"] = remote_execution(driver)
        return targets

    def serve(self, driver, args, ssl_config, loop):
        """Serve the driver until terminate, Ctrl-C, SIGTERM or SIGHUP."""
        from . import server

        if self.remote_exec and ssl_config is not None:
            logger.warning("ARTIQ's device manager opens the remote "
                           "execution target without SSL: with --ssl, "
                           "experiments cannot reach %s_rexec", self.name)
        server.serve(
            self.targets(driver), bind_addresses(args), args.port,
            description=self.title, limits=limits.from_arguments(args),
            # An asyncio driver's calls may overlap: a long one must not
            # block ping().
            allow_parallel=self.asyncio, ssl_config=ssl_config, loop=loop)


def run(loop, result):
    """``result``, awaited on ``loop`` if it is a coroutine."""
    if inspect.isawaitable(result):
        return loop.run_until_complete(result)
    return result


def check_answers(alive):
    if alive is not True:
        raise ConnectionError(f"it does not answer: ping() returned "
                              f"{alive!r}")


@contextlib.contextmanager
def one_error_line(parser, failure, errors):
    """Turn ``errors`` into one error line and exit code 1; the traceback
    is logged too, seen with -v."""
    try:
        yield
    except errors as error:
        logger.info("%s", failure, exc_info=True)
        reason = str(error) or type(error).__name__
        parser.exit(1, f"{parser.prog}: error: {failure}: {reason}\n")


def checked_ssl(parser, args):
    """--ssl CERT KEY PEER as sipyco's configuration, checked before the
    device is opened (a mistyped path is common); None without it."""
    if not args.ssl:
        return None
    from sipyco.tools import SimpleSSLConfig

    config = SimpleSSLConfig(*args.ssl)
    with one_error_line(parser, "cannot use the --ssl files", OSError):
        config.create_server_context()
    return config


def remote_execution(driver):
    """sipyco's remote execution target, made as simple_rexec_server_loop
    makes it, but served on the controller's own loop (that function takes
    no loop=, with which asyncio drivers would break, and no SSL)."""
    from sipyco.remote_exec import RemoteExecServer

    from .server import PerConnection

    namespace = {"controller_driver": driver}
    namespace["controller_initial_namespace"] = namespace
    return PerConnection(lambda account: RemoteExecServer(namespace))


def can_bind(address):
    """Whether this host has ``address``: ::1 needs IPv6."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def bind_addresses(args):
    """sipyco's addresses to listen on, less the implicit ::1 on a host
    without IPv6, where sipyco would stop with Errno 99."""
    from sipyco import common_args

    addresses = common_args.bind_address_from_args(args)
    if addresses and not args.no_localhost_bind and not can_bind("::1"):
        logger.warning("this host has no IPv6: serving on 127.0.0.1, "
                       "not ::1")
        addresses.remove("::1")
    return addresses
