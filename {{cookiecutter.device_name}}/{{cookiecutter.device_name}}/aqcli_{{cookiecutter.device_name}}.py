{%- set name = cookiecutter.device_name -%}
"""Command-line client for the {{ name }} controller."""

import argparse
import logging

from sipyco import common_args
from sipyco.pc_rpc import Client, IncompatibleServer

from .aqctl_{{ name }} import DEFAULT_PORT, DEVICE_TITLE

logger = logging.getLogger(__name__)


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

    # One subcommand per driver method; each knows how to call it.
    commands = parser.add_subparsers(
        title="commands", required=True)
    message = commands.add_parser(
        "message", help="print a message on the device's console")
    message.add_argument("msg", help="the text to print")
    message.set_defaults(call=lambda remote, args: remote.message(args.msg))
    ping = commands.add_parser("ping", help="check that the device answers")
    ping.set_defaults(call=lambda remote, args: remote.ping())
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
        result = args.call(remote, args)
    except Exception as error:
        logger.info("the call failed", exc_info=True)
        parser.exit(1, f"{parser.prog}: error: {type(error).__name__}: "
                       f"{error}\n")
    finally:
        remote.close_rpc()
    if result is not None:
        print(result)


if __name__ == "__main__":
    main()
