{%- set name = cookiecutter.device_name -%}
{%- set cls = cookiecutter.__driver_class -%}
{%- set asyncio = cookiecutter.driver_api == "asyncio" -%}
"""Serves the {{ name }} driver over sipyco RPC."""

import argparse
import asyncio
import contextlib
import logging

from sipyco import common_args
from sipyco.pc_rpc import simple_server_loop

from . import simulation, transport
from .driver import {{ cls }}

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

    common_args.simple_network_args(parser, DEFAULT_PORT)
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


def main():
    parser = get_argparser()
    args = parser.parse_args()
    if not (args.device or args.simulation):
        parser.error("give -d/--device, or --simulation to run without "
                     "hardware")
    common_args.init_logger_from_args(args)

    # The driver and the server share this loop: without loop=, sipyco would
    # serve on a fresh one and asyncio drivers would break (artiq#1938).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        # Whatever fails while opening: a missing library, a wrong address,
        # a device that does not answer.
        with one_error_line(parser, f"cannot open device {args.device!r}",
                            Exception):
            driver = {{ "loop.run_until_complete(open_driver(args))" if asyncio else "open_driver(args)" }}
        try:
            with one_error_line(parser, f"cannot serve on port {args.port}",
                                OSError):
                simple_server_loop(
                    {"{{ name }}": driver},
                    common_args.bind_address_from_args(args), args.port,
                    description=DEVICE_TITLE,
{%- if asyncio %}
                    # Calls may overlap: a long one must not block ping().
                    allow_parallel=True,
{%- endif %}
                    loop=loop)
        finally:
            {{ "loop.run_until_complete(driver.close())" if asyncio else "driver.close()" }}
    finally:
        loop.close()


if __name__ == "__main__":
    main()
