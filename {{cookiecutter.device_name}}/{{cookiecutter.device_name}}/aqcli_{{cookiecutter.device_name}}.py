{%- set name = cookiecutter.device_name -%}
"""Command-line client for the {{ name }} controller.

Its commands are the driver's public methods, read when it runs: names,
parameters and defaults from their signatures, argument types from their
annotations (int, float, str, bool, list[float]), help from their
docstrings. A method added to the driver is a command, with no edit here.

Arrays are files: a parameter annotated numpy.ndarray takes a .npy or
.csv file, sent in chunks (bulk.py); a method that returns one writes it
with -o FILE, or prints a sample per line.
"""

import argparse
import asyncio
import collections.abc
import contextlib
import inspect
import logging
import pathlib
import sys
import typing

import numpy

from sipyco import common_args
from sipyco.pc_rpc import Client, IncompatibleServer
{%- if cookiecutter.ssl %}
from sipyco.tools import SimpleSSLConfig
{%- endif %}

from . import bulk
from .aqctl_{{ name }} import DEFAULT_PORT, DEVICE_TITLE
from .driver import {{ cookiecutter.__driver_class }} as Driver

logger = logging.getLogger(__name__)
TARGET = "{{ name }}"
# Called by the controller itself, not by a person.
NOT_COMMANDS = {"close"}
SEQUENCES = {list, tuple, collections.abc.Sequence}
BOOLEANS = {"true": True, "yes": True, "on": True, "1": True,
            "false": False, "no": False, "off": False, "0": False}


def boolean(text):
    """``true``/``false`` (or yes/no, on/off, 1/0) as a bool."""
    try:
        return BOOLEANS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"expected true or false, not {text!r}") from None


CONVERTERS = {int: int, float: float, str: str, bool: boolean}


def driver_methods():
    """The driver's public methods, by name."""
    return {name: method
            for name, method in inspect.getmembers(Driver, inspect.isfunction)
            if not name.startswith("_") and name not in NOT_COMMANDS}


def annotated_type(parameter):
    """The parameter's annotation, else its default's type, else str."""
    if parameter.annotation is not parameter.empty:
        return parameter.annotation
    if parameter.default not in (parameter.empty, None):
        return type(parameter.default)
    return str


def type_name(kind):
    return getattr(kind, "__name__", "str")


def argument_options(parameter):
    """add_argument()'s type, nargs and help for one parameter."""
    kind = annotated_type(parameter)
    if kind is numpy.ndarray:
        return {"type": str, "help": "a .npy or .csv file of samples"}
    if typing.get_origin(kind) in SEQUENCES or kind in SEQUENCES:
        item = (typing.get_args(kind) or (str,))[0]
        required = parameter.default is parameter.empty
        return {"type": CONVERTERS.get(item, str),
                "nargs": "+" if required else "*",
                "help": f"{type_name(item)}, one or more"}
    return {"type": CONVERTERS.get(kind, str), "help": type_name(kind)}


def is_positional(parameter):
    return (parameter.default is parameter.empty
            and parameter.kind in (parameter.POSITIONAL_ONLY,
                                   parameter.POSITIONAL_OR_KEYWORD))


def literal(text):
    """``text`` as argparse shows it: a help text is %-formatted."""
    return text.replace("%", "%%")


def destination(parameter):
    """Where argparse keeps a parameter's value: apart from the client's
    own options, so that a parameter may be called port or timeout."""
    return "argument:" + parameter.name


def add_parameter(command, parameter):
    """A positional argument, or an --option when it has a default; an
    option left out is not sent, so the driver's own default holds."""
    options = argument_options(parameter)
    if parameter.kind is parameter.VAR_POSITIONAL:
        options["nargs"] = "*"
    if parameter.kind is parameter.VAR_POSITIONAL or is_positional(parameter):
        command.add_argument(destination(parameter), metavar=parameter.name,
                             **options)
        return
    if parameter.default is not parameter.empty:
        options["help"] += literal(f", default: {parameter.default!r}")
    command.add_argument("--" + parameter.name.replace("_", "-"),
                         dest=destination(parameter),
                         default=argparse.SUPPRESS,
                         required=parameter.default is parameter.empty,
                         metavar=parameter.name.upper(), **options)


def add_commands(parser):
    commands = parser.add_subparsers(title="commands", dest="command",
                                     metavar="command", required=True)
    for name, method in driver_methods().items():
        docstring = inspect.getdoc(method) or ""
        command = commands.add_parser(
            name, help=literal(docstring.split("\n")[0]),
            description=docstring,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        parameters = list(inspect.signature(method).parameters.values())[1:]
        for parameter in parameters:
            if parameter.kind is not parameter.VAR_KEYWORD:
                add_parameter(command, parameter)
        if returns_array(method):
            command.add_argument(
                "-o", "--output", metavar="FILE", dest="client:output",
                help="write the array to FILE, .npy or .csv (default: a "
                     "sample per line on standard output)")
        command.set_defaults(parameters=parameters)


def returns_array(method):
    return inspect.signature(method).return_annotation is numpy.ndarray


def array_parameter(parameters):
    """The first parameter annotated numpy.ndarray, or None."""
    return next((parameter for parameter in parameters
                 if parameter.annotation is numpy.ndarray), None)


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
{%- if cookiecutter.ssl %}
    parser.add_argument(
        "--ssl", nargs=3, metavar=("CERT", "KEY", "PEER"),
        help="connect with SSL: this client's certificate and key, and the "
             "controller's certificate to trust")
{%- endif %}
    common_args.verbosity_args(parser)
    add_commands(parser)
    return parser


def call_arguments(args):
    """The parsed command line as the method's (args, kwargs)."""
    positional, keywords = [], {}
    for parameter in args.parameters:
        if not hasattr(args, destination(parameter)):
            continue  # an option left out: the driver's default holds
        value = getattr(args, destination(parameter))
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif is_positional(parameter):
            positional.append(value)
        else:
            keywords[parameter.name] = value
    return positional, keywords


def output_lines(result):
    """The result as lines a shell script reads: none for None, an item
    per line for a sequence, "key<TAB>value" for a mapping."""
    if result is None:
        return []
    if hasattr(result, "tolist"):  # a NumPy array or number
        result = result.tolist()
    if isinstance(result, dict):
        return [f"{key}\t{value}" for key, value in result.items()]
    if isinstance(result, (list, tuple)):
        return [str(item) for item in result]
    return [str(result)]


def connect(parser, args):
    """A client of the controller at -s/-p, once it is known to serve
    this device; else one error line and exit code 1."""
    where = f"{args.server}:{args.port}"
    try:
        remote = Client(args.server, args.port, None, timeout=args.timeout{{ ",
                        ssl_config=args.ssl and SimpleSSLConfig(*args.ssl)" if cookiecutter.ssl }})
    except (OSError, IncompatibleServer) as error:
        logger.info("connecting to %s failed", where, exc_info=True)
        parser.exit(1, f"{parser.prog}: error: cannot reach the "
                       f"controller at {where}: {error}\n")
    targets, _ = remote.get_rpc_id()
    if TARGET not in targets:
        remote.close_rpc()
        parser.exit(1, f"{parser.prog}: error: the controller at {where} "
                       f"serves {', '.join(targets)}, not {TARGET}: give "
                       f"the {TARGET} controller's port with -p\n")
    remote.select_rpc_target(TARGET)
    return remote


def call(parser, remote, args):
    """The command's result; else one error line and exit code 1."""
    try:
        method = getattr(remote, args.command)
    except AttributeError:  # the controller does not list it
        parser.exit(1, f"{parser.prog}: error: the controller has no "
                       f"{args.command}(): is it an older version?\n")
    positional, keywords = call_arguments(args)
    try:
        return method(*positional, **keywords)
    except Exception as error:
        fail(parser, args, error)


def fail(parser, args, error):
    logger.info("the call failed", exc_info=True)
    parser.exit(1, f"{parser.prog}: error: {args.command}: "
                   f"{type(error).__name__}: {error}\n")


def file_error(parser, path, problem):
    parser.exit(1, f"{parser.prog}: error: {path}: {problem}\n")


def reason(error):
    """An OSError's own words (no errno, no path), else the message."""
    return getattr(error, "strerror", None) or str(error)


def array_format(parser, path):
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in (".npy", ".csv"):
        file_error(parser, path, "give a .npy or .csv file")
    return suffix


def read_array(parser, path):
    """The one-dimensional array in a .npy or .csv file."""
    try:
        if array_format(parser, path) == ".npy":
            array = numpy.load(path, allow_pickle=False)
        else:
            array = numpy.loadtxt(path, delimiter=",", ndmin=1)
    except (OSError, ValueError) as error:
        file_error(parser, path, f"cannot read it: {reason(error)}")
    if array.ndim != 1:
        file_error(parser, path, f"holds a {array.ndim}-dimensional array, "
                                 "not a list of samples")
    return array


def write_array(parser, path, array):
    try:
        if array_format(parser, path) == ".npy":
            numpy.save(path, array)
        else:
            numpy.savetxt(path, array, delimiter=",")
    except OSError as error:
        file_error(parser, path, f"cannot write it: {reason(error)}")


@contextlib.contextmanager
def progress_bar(what):
    """progress(samples, length), drawn on standard error for transfers
    that last more than half a second."""
    from tqdm import tqdm  # here: the other commands start without it

    with tqdm(desc=what, unit=" samples", unit_scale=True, delay=0.5,
              leave=False, file=sys.stderr) as bar:
        def progress(samples, length):
            bar.total = length
            bar.update(samples - bar.n)
        yield progress


def call_with_arrays(parser, args, data):
    """A command that takes (``data``) or returns an array, through
    bulk.py: its result; else one error line and exit code 1."""
    _, keywords = call_arguments(args)
    keywords.update({parameter.name: getattr(args, destination(parameter))
                     for parameter in args.parameters
                     if is_positional(parameter)})
    connection = dict(ssl_config={{ "args.ssl and SimpleSSLConfig(*args.ssl)" if cookiecutter.ssl else "None" }})
    uploaded = array_parameter(args.parameters)
    try:
        with progress_bar(args.command) as progress:
            if uploaded is not None:
                del keywords[uploaded.name]  # the file's name
                coroutine = bulk.upload_async(
                    args.server, args.port, args.command, data,
                    kwargs=keywords, parameter=uploaded.name,
                    progress=progress, **connection)
            else:
                coroutine = bulk.download_async(
                    args.server, args.port, args.command, kwargs=keywords,
                    progress=progress, **connection)
            return asyncio.run(coroutine)
    except bulk.ControllerUnreachable as error:
        parser.exit(1, f"{parser.prog}: error: cannot reach the controller "
                       f"at {error}\n")
    except Exception as error:  # the driver's own, ConnectionError too
        fail(parser, args, error)


def main():
    parser = get_argparser()
    args = parser.parse_args()
    common_args.init_logger_from_args(args)

    # The files first: a mistyped name needs no controller to be told.
    uploaded = array_parameter(args.parameters)
    data = (read_array(parser, getattr(args, destination(uploaded)))
            if uploaded is not None else None)
    output = getattr(args, "client:output", None)
    if output is not None:
        array_format(parser, output)
    remote = connect(parser, args)
    if uploaded is not None or returns_array(driver_methods()[args.command]):
        remote.close_rpc()
        result = call_with_arrays(parser, args, data)
    else:
        try:
            result = call(parser, remote, args)
        finally:
            remote.close_rpc()
    if output is not None and isinstance(result, numpy.ndarray):
        write_array(parser, output, result)
        return
    for line in output_lines(result):
        print(line)


if __name__ == "__main__":
    main()
