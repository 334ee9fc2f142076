{%- set name = cookiecutter.device_name -%}
{%- set cls = cookiecutter.__driver_class -%}
"""Serves the {{ name }} driver over sipyco RPC."""

import argparse
import asyncio
import contextlib
import logging

from sipyco import common_args
from sipyco.pc_rpc import simple_server_loop

from .driver import {{ cls }}, {{ cls }}Sim

logger = logging.getLogger(__name__)

DEVICE_TITLE = {{ cookiecutter.device_title | py_string }}
DEFAULT_PORT = {{ cookiecutter.default_port }}


def get_argparser():
    parser = argparse.ArgumentParser(
        prog="aqctl_{{ name }}",
        description="ARTIQ controller for the " + DEVICE_TITLE)
    device = parser.add_mutually_exclusive_group(required=True)
    device.add_argument(
        "-d", "--device",
        help="where to print: 'console' for this controller's standard "
             "output, or the path of an existing terminal or file")
    device.add_argument(
        "--simulation", action="store_true",
        help="run against a simulated device, without hardware")
    common_args.simple_network_args(parser, DEFAULT_PORT)
    common_args.verbosity_args(parser)
    return parser


@contextlib.contextmanager
def exit_on_os_error(parser, failure):
    """Turn an OSError into one error line and exit code 1.

    The traceback is logged too, seen with -v.
    """
    try:
        yield
    except OSError as error:
        logger.info("%s", failure, exc_info=True)
        parser.exit(1, f"{parser.prog}: error: {failure}: {error}\n")


def open_driver(args):
    """The driver for the device named on the command line, or a simulation."""
    if args.simulation:
        return {{ cls }}Sim()
    return {{ cls }}(args.device)


def main():
    parser = get_argparser()
    args = parser.parse_args()
    common_args.init_logger_from_args(args)

    # The driver and the server share this loop: without loop=, sipyco would
    # serve on a fresh one and asyncio drivers would break (artiq#1938).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with exit_on_os_error(parser, f"cannot open device {args.device!r}"):
            driver = open_driver(args)
        try:
            with exit_on_os_error(parser, f"cannot serve on port {args.port}"):
                simple_server_loop(
                    {"{{ name }}": driver},
                    common_args.bind_address_from_args(args), args.port,
                    description=DEVICE_TITLE,
{%- if cookiecutter.driver_api == "asyncio" %}
                    # Calls may overlap: a long one must not block ping().
                    allow_parallel=True,
{%- endif %}
                    loop=loop)
        finally:
{%- if cookiecutter.driver_api == "asyncio" %}
            loop.run_until_complete(driver.close())
{%- else %}
            driver.close()
{%- endif %}
    finally:
        loop.close()


if __name__ == "__main__":
    main()
