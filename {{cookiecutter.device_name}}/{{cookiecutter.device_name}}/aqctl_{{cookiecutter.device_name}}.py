{%- set name = cookiecutter.device_name -%}
{%- set cls = cookiecutter.__driver_class -%}
{%- set asyncio = cookiecutter.driver_api == "asyncio" -%}
{%- set ssl = cookiecutter.ssl -%}
{%- set rexec = cookiecutter.remote_exec -%}
{%- set bulk = cookiecutter.include_client -%}
"""Serves the {{ name }} driver over sipyco RPC."""

import argparse
import asyncio
import contextlib
import logging
import socket

from sipyco import common_args
{%- if rexec %}
from sipyco.remote_exec import RemoteExecServer
{%- endif %}
{%- if ssl %}
from sipyco.tools import SimpleSSLConfig
{%- endif %}

from . import {{ "bulk, " if bulk }}simulation, transport
from .driver import {{ cls }}
from .ndsp_runtime import limits, server

logger = logging.getLogger(__name__)

DEVICE_TITLE = {{ cookiecutter.device_title | py_string }}
DEFAULT_PORT = {{ cookiecutter.default_port }}
DEFAULT_TIMEOUT = 2.0  # seconds to wait for each reply of the device


def get_argparser():
    parser = argparse.ArgumentParser(
        prog="aqctl_{{ name }}",
        description="ARTIQ controller for the " + DEVICE_TITLE)
    parser.add_argument(
        "-d", "--device", help="the device: " + transport.ADDRESS_HELP)
    parser.add_argument(
        "--simulation", action="store_true",
        help="run against a simulated device, without hardware (wins "
             "over -d)")

    # Device options: add yours here. Each one reaches the transport, real
    # or simulated, as the keyword argument of its name (see open_driver).
    options = parser.add_argument_group("device options")
    device_options = [
        options.add_argument(
            "--timeout", type=float, default=DEFAULT_TIMEOUT,
            help="seconds to wait for each reply (default: %(default)s)"
        ).dest,
        *transport.add_options(options),
    ]
    parser.set_defaults(device_options=device_options)

    common_args.simple_network_args(parser, DEFAULT_PORT{{ ", ssl=True" if ssl }})
    limits.add_arguments(parser)
    common_args.verbosity_args(parser)
    return parser


@contextlib.contextmanager
def one_error_line(parser, failure, errors):
    """Turn ``errors`` into one error line and exit code 1.

    The traceback is logged too, seen with -v.
    """
    try:
        yield
    except errors as error:
        logger.info("%s", failure, exc_info=True)
        reason = str(error) or type(error).__name__
        parser.exit(1, f"{parser.prog}: error: {failure}: {reason}\n")


{{ "async def" if asyncio else "def" }} open_driver(args):
    """The driver on the device that -d names, or on its simulation."""
    options = {name: getattr(args, name) for name in args.device_options}
    if args.simulation:
        link = simulation.SimulatedTransport(simulation.FakeDevice(),
                                             **options)
    else:
        link = {{ "await " if asyncio }}transport.open_transport(args.device, **options)
    return {{ cls }}(link)


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
    addresses = common_args.bind_address_from_args(args)
    if addresses and not args.no_localhost_bind and not can_bind("::1"):
        logger.warning("this host has no IPv6: serving on 127.0.0.1, "
                       "not ::1")
        addresses.remove("::1")
    return addresses


def targets(driver):
    """The RPC targets: the driver, under the device's name, and the
    targets that serve it in other ways."""
    targets = {"{{ name }}": driver}
{%- if rexec %}
    # Remote execution, made as simple_rexec_server_loop makes it (that
    # takes no loop=, with which asyncio drivers would break, and no SSL).
    namespace = {"controller_driver": driver}
    namespace["controller_initial_namespace"] = namespace
    targets["{{ name }}_rexec"] = server.PerConnection(
        lambda account: RemoteExecServer(namespace))
{%- endif %}
{%- if bulk %}
    # Large arrays, in chunks (bulk.py): a session per connection, so that
    # an upload cut off ends with its connection.
    targets[bulk.TARGET] = server.PerConnection(
        lambda account: bulk.BulkSession(driver, account))
{%- endif %}
    return targets


{{ "def check_answers(driver, loop):" if asyncio else "def check_answers(driver):" }}
    """Raise unless the driver's ping() is True."""
    alive = {{ "loop.run_until_complete(driver.ping())" if asyncio else "driver.ping()" }}
    if alive is not True:
        raise ConnectionError(f"it does not answer: ping() returned "
                              f"{alive!r}")


def serve(driver, args, loop):
    """Serve the driver until terminate, Ctrl-C, SIGTERM or SIGHUP."""
    server.serve(
        targets(driver), bind_addresses(args), args.port,
        description=DEVICE_TITLE, limits=limits.from_arguments(args),
{%- if asyncio %}
        # Calls may overlap: a long one must not block ping().
        allow_parallel=True,
{%- endif %}
{%- if ssl %}
        ssl_config=args.ssl and SimpleSSLConfig(*args.ssl),
{%- endif %}
        loop=loop)


def main():
    parser = get_argparser()
    args = parser.parse_args()
    if not (args.device or args.simulation):
        parser.error("give -d/--device, or --simulation to run without "
                     "hardware")
    common_args.init_logger_from_args(args)
{%- if ssl %}
    if args.ssl:  # before the device is opened: a mistyped path is common
        with one_error_line(parser, "cannot use the --ssl files", OSError):
            SimpleSSLConfig(*args.ssl).create_server_context()
{%- endif %}

    # The driver and the server share this loop: without loop=, sipyco would
    # serve on a fresh one and asyncio drivers would break (artiq#1938).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    device = ("the simulated device" if args.simulation
              else f"device {args.device!r}")
    try:
        # Whatever fails while opening: a missing library, a wrong address,
        # a device that does not answer.
        with one_error_line(parser, f"cannot open {device}", Exception):
            driver = {{ "loop.run_until_complete(open_driver(args))" if asyncio else "open_driver(args)" }}
        try:
            # Serve only a device that answers: pyvisa-py, for one, opens
            # a TCP resource where nothing listens without an error.
            with one_error_line(parser, f"cannot open {device}", Exception):
                check_answers(driver{{ ", loop" if asyncio }})
            with one_error_line(parser, f"cannot serve on port {args.port}",
                                OSError):
                serve(driver, args, loop)
        finally:
            {{ "loop.run_until_complete(driver.close())" if asyncio else "driver.close()" }}
            logger.info("the device is closed")
    finally:
        loop.close()


if __name__ == "__main__":
    main()
