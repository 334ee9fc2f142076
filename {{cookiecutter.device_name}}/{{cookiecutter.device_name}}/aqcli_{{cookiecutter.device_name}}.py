{%- set name = cookiecutter.device_name -%}
"""Command-line client for the {{ name }} controller.

Its commands are the driver's public methods, read from their signatures
and docstrings: a new driver method is a new command.
"""

import argparse
import ast
import inspect
import logging

from sipyco import common_args
from sipyco.pc_rpc import Client, IncompatibleServer

from .aqctl_{{ name }} import DEFAULT_PORT, DEVICE_TITLE
from .driver import {{ cookiecutter.__driver_class }} as Driver

logger = logging.getLogger(__name__)
# Called by the controller itself, not by a person.
NOT_COMMANDS = {"close"}


def python_value(text):
    """A command-line argument as a Python literal (5, 2.5, 'x'), else
    as the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def driver_methods():
    """The driver's public methods, by name."""
    return {name: method
            for name, method in inspect.getmembers(Driver, inspect.isfunction)
            if not name.startswith("_") and name not in NOT_COMMANDS}


def add_commands(parser):
    commands = parser.add_subparsers(title="commands", dest="command",
                                     required=True)
    for name, method in driver_methods().items():
        summary = (inspect.getdoc(method) or "").split("\n")[0]
        command = commands.add_parser(name, help=summary,
                                      description=inspect.getdoc(method))
        parameters = list(inspect.signature(method).parameters.values())[1:]
        for parameter in parameters:
            command.add_argument(parameter.name, type=python_value)
        command.set_defaults(arguments=[p.name for p in parameters])


def get_argparser():
    parser = argparse.ArgumentParser(
        prog="aqcli_{{ name }}",
        description="Command-line client for the " + DEVICE_TITLE)
    parser.add_argument(
        "-s", "--server", default="localhost",
        help="hostname or IP address of the controller (default: %(default)s)")
    parser.add_argument(
        "-p", "--port", default=DEFAULT_PORT, type=int,
        help="TCP port of the controller (default: %(default)s)")
    parser.add_argument(
        "--timeout", default=10.0, type=float,
        help="seconds to wait for the controller (default: %(default)s)")
    common_args.verbosity_args(parser)
    add_commands(parser)
    return parser


def main():
    parser = get_argparser()
    args = parser.parse_args()
    common_args.init_logger_from_args(args)

    where = f"{args.server}:{args.port}"
    try:
        remote = Client(args.server, args.port, "{{ name }}",
                        timeout=args.timeout)
    except (OSError, IncompatibleServer) as error:
        logger.info("connecting to %s failed", where, exc_info=True)
        parser.exit(1, f"{parser.prog}: error: cannot reach the "
                       f"controller at {where}: {error}\n")
    try:
        call = getattr(remote, args.command)
        result = call(*[getattr(args, name) for name in args.arguments])
    except Exception as error:
        logger.info("the call failed", exc_info=True)
        parser.exit(1, f"{parser.prog}: error: {args.command}: "
                       f"{type(error).__name__}: {error}\n")
    finally:
        remote.close_rpc()
    if result is not None:
        print(result)


if __name__ == "__main__":
    main()
