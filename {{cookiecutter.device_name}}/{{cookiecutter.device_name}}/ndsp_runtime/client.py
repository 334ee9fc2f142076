"""The command-line client of an NDSP: aqcli_<name>, built from its
driver's class.

Its commands are the driver's public methods, read when it runs: names,
parameters and defaults from their signatures, argument types from their
annotations (int, float, str, bool, list[float]), help from their
docstrings. A method added to the driver is a command, with no edit here.

Arrays are files: a parameter annotated numpy.ndarray takes a .npy or
.csv file, sent in chunks (bulk.py); a method that returns one writes it
with -o FILE (replaced only with -f, and written whole or not at all), or
prints a sample per line.
"""

import argparse
import asyncio
import collections.abc
import contextlib
import inspect
import logging
import os
import pathlib
import re
import secrets
import sys
import textwrap
import typing
import warnings

import numpy
from numpy.lib import format as npy_format

from sipyco import common_args
from sipyco.pc_rpc import Client
from sipyco.tools import SimpleSSLConfig

from . import bulk
from .surface import remote_methods

logger = logging.getLogger(__name__)
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


def driver_methods(driver):
    """The public methods of the class ``driver``, by name: those its
    controller serves."""
    return {name: getattr(driver, name) for name in remote_methods(driver)}


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


# An optional positional argument left out.
OMITTED = object()


def given(args, parameter):
    """Whether the command line gave ``parameter``."""
    return getattr(args, destination(parameter), OMITTED) is not OMITTED


def is_positional(parameter):
    """Given by its place, as Python takes it: a parameter before ``*``
    (optional when it has a default)."""
    return parameter.kind in (parameter.POSITIONAL_ONLY,
                              parameter.POSITIONAL_OR_KEYWORD)


def literal(text):
    """``text`` as argparse shows it: a help text is %-formatted."""
    return text.replace("%", "%%")


def destination(parameter):
    """Where argparse keeps a parameter's value: apart from the client's
    own options, so that a parameter may be called port or timeout."""
    return "argument:" + parameter.name


def option(parameter):
    return "--" + parameter.name.replace("_", "-")


class ParameterClash(Exception):
    """A driver parameter that the client cannot offer as an option."""


def by_option(parameters):
    """The names of the parameters given as --options: keyword-only ones,
    and those after a list (which takes every word that follows it), as
    Python could take them by keyword."""
    names, after_a_list = set(), False
    for parameter in parameters:
        if parameter.kind is parameter.KEYWORD_ONLY or (
                after_a_list and is_positional(parameter)):
            names.add(parameter.name)
        elif is_positional(parameter) and "nargs" in \
                argument_options(parameter):
            after_a_list = True
    return names


def add_parameter(command, parameter, as_option):
    """The parameter as Python takes it: by its place (optional when it
    has a default), *args as the rest, a keyword-only one (``as_option``)
    as an --option. What is left out is not sent, so the driver's own
    default holds."""
    options = argument_options(parameter)
    has_default = parameter.default is not parameter.empty
    if has_default:
        options["help"] += literal(f", default: {parameter.default!r}")
    if parameter.kind is parameter.VAR_POSITIONAL:
        command.add_argument(destination(parameter), metavar=parameter.name,
                             **dict(options, nargs="*"))
    elif not as_option:
        if has_default:
            options.setdefault("nargs", "?")
        # Not argparse.SUPPRESS: argparse would convert that string.
        command.add_argument(destination(parameter), metavar=parameter.name,
                             default=OMITTED, **options)
    else:
        command.add_argument(option(parameter), dest=destination(parameter),
                             default=argparse.SUPPRESS,
                             required=not has_default,
                             metavar=parameter.name.upper(), **options)


def add_output_options(command):
    """-o and -f: short options, which no parameter's --option can be."""
    command.add_argument(
        "-o", metavar="FILE", dest="client:output",
        help="write the array to FILE, .npy or .csv (default: a sample per "
             "line on standard output)")
    command.add_argument(
        "-f", action="store_true", dest="client:overwrite",
        help="replace FILE if it exists (default: keep it, and stop)")


def add_commands(parser, driver):
    commands = parser.add_subparsers(title="commands", dest="command",
                                     metavar="command", required=True)
    for name, method in driver_methods(driver).items():
        docstring = inspect.getdoc(method) or ""
        command = commands.add_parser(
            name, help=literal(first_sentence(docstring)),
            description=docutils_text(docstring),
            formatter_class=CommandHelp)
        parameters = call_parameters(driver, name)
        options = by_option(parameters)
        for parameter in parameters:
            if parameter.kind is parameter.VAR_KEYWORD:
                continue
            try:
                add_parameter(command, parameter, parameter.name in options)
            except argparse.ArgumentError:  # -h/--help: argparse's own
                raise ParameterClash(
                    f"the driver's {name}() cannot be a command: its "
                    f"parameter {parameter.name} would be "
                    f"{option(parameter)}, the client's own option: "
                    "rename it") from None
        if returns_array(method):
            add_output_options(command)
        command.set_defaults(parameters=parameters,
                             **{"client:method": method,
                                "client:by_option": options})


def call_parameters(driver, name):
    """The parameters a client gives the method ``name`` of the class
    ``driver``: all but self (static and class methods have none)."""
    parameters = list(inspect.signature(getattr(driver, name))
                      .parameters.values())
    if isinstance(inspect.getattr_static(driver, name),
                  (staticmethod, classmethod)):
        return parameters  # a class method's cls is bound already
    return parameters[1:]


# reST's roles, as pymeasure's docstrings hold them: :attr:`~.voltage`.
ROLE = re.compile(r":[a-z:]+:`~?\.?([^`]*)`")
# reST's directives: ".. note::", ".. deprecated:: 0.13".
DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w-]+)::[ \t]*(.*)$", re.MULTILINE)


def directive_as_heading(match):
    indent, name, argument = match.groups()
    name = name.replace("-", " ").capitalize()
    return f"{indent}{name} ({argument}):" if argument else f"{indent}{name}:"


def docutils_text(docstring):
    """The docstring as reST that docutils alone reads: a role becomes a
    literal of its target, a directive a heading (``Note:``). The docs'
    argparse directive parses a command's description without Sphinx,
    which knows neither Sphinx's roles nor its directives."""
    return DIRECTIVE.sub(directive_as_heading,
                         ROLE.sub(r"``\1``", docstring))


def plain_text(docstring):
    """The docstring as a terminal shows it: no role, directive or
    backquote left."""
    return docutils_text(docstring).replace("`", "")


class CommandHelp(argparse.RawDescriptionHelpFormatter):
    """A command's description, the method's docstring, as plain text with
    its own line breaks; never %-formatted (it is no format string)."""

    def _format_text(self, text):
        indent = " " * self._current_indent
        return textwrap.indent(plain_text(text), indent) + "\n\n"


def first_sentence(docstring):
    """The docstring's first sentence, whole, on one line, as text."""
    paragraph = " ".join(plain_text(docstring).split("\n\n")[0].split())
    end = re.search(r"[.!?](?=\s|$)", paragraph)
    return paragraph[:end.end()] if end else paragraph


def returns_array(method):
    return inspect.signature(method).return_annotation is numpy.ndarray


def array_parameter(parameters):
    """The first parameter annotated numpy.ndarray, or None."""
    return next((parameter for parameter in parameters
                 if parameter.annotation is numpy.ndarray), None)


def argparser(driver, name, title, default_port):
    """aqcli_<name>'s command line: the client's options, then a command
    per public method of the class ``driver``, whose controller serves it
    as the target ``name`` on ``default_port``."""
    parser = argparse.ArgumentParser(
        prog=f"aqcli_{name}",
        description="Command-line client for the " + title)
    parser.set_defaults(**{"client:target": name})
    parser.add_argument(
        "-s", "--server", default="localhost",
        help="hostname or IP address of the controller (default: %(default)s)")
    parser.add_argument(
        "-p", "--port", default=default_port, type=int,
        help="TCP port of the controller (default: %(default)s)")
    parser.add_argument(
        "--timeout", default=10.0, type=float,
        help="seconds to wait for the controller (default: %(default)s)")
    parser.add_argument(
        "--array-path", choices=bulk.PATHS, default="auto",
        dest="client:array_path",
        help="how arrays travel: on a binary channel of raw bytes, in "
             "chunks of pyon (sipyco's text), or the channel where the "
             "controller offers it and it can be reached, else pyon; -v "
             "says which (default: %(default)s)")
    parser.add_argument(
        "--ssl", nargs=3, metavar=("CERT", "KEY", "PEER"),
        help="connect with SSL: this client's certificate and key, and the "
             "controller's certificate to trust")
    common_args.verbosity_args(parser)
    add_commands(parser, driver)
    return parser


def call_arguments(args):
    """The parsed command line as the method's (args, kwargs)."""
    positional, keywords = [], {}
    for parameter in args.parameters:
        if not given(args, parameter):
            continue  # left out: the driver's default holds
        value = getattr(args, destination(parameter))
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif parameter.name not in getattr(args, "client:by_option"):
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


def connect(parser, args, ssl_config):
    """A client of the controller at -s/-p, once it is known to serve
    this device; else bulk.ControllerUnreachable, or one error line and
    exit code 1 for another device's controller."""
    remote, selected = None, False
    try:
        remote = Client(args.server, args.port, None, timeout=args.timeout,
                        ssl_config=ssl_config)
        targets = bulk.served_targets(remote, args.server, args.port)
        target = getattr(args, "client:target")
        if target in targets:
            remote.select_rpc_target(target)
            selected = True
            return remote
    except bulk.ControllerUnreachable:
        raise
    except Exception as error:
        raise bulk.unreachable(args.server, args.port, error,
                               args.timeout) from error
    finally:
        if remote is not None and not selected:
            remote.close_rpc()
    parser.exit(1, f"{parser.prog}: error: the controller at {args.server}:"
                   f"{args.port} serves {', '.join(targets)}, not {target}: "
                   f"give the {target} controller's port with -p\n")


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
    """The one-dimensional array of numbers in a .npy or .csv file."""
    suffix = array_format(parser, path)
    try:
        if os.path.getsize(path) == 0:
            file_error(parser, path, "is empty")
        array = read_npy(parser, path) if suffix == ".npy" else read_csv(path)
    except (OSError, ValueError) as error:
        file_error(parser, path, f"cannot read it: {reason(error)}")
    if array.dtype.kind not in bulk.NUMBERS:
        file_error(parser, path, f"holds {array.dtype} values, not numbers")
    if array.ndim != 1:
        file_error(parser, path, f"holds a {array.ndim}-dimensional array, "
                                 "not a list of samples")
    if len(array) == 0:
        file_error(parser, path, "holds no samples")
    return array


def read_npy(parser, path):
    """The array in a .npy file, and nothing else (numpy.load would open
    an .npz archive, or unpickle)."""
    with open(path, "rb") as file:
        start = file.read(len(npy_format.MAGIC_PREFIX))
        if start.startswith(b"PK"):  # a zip file
            file_error(parser, path,
                       "is an .npz archive, not a .npy file of one array")
        if start != npy_format.MAGIC_PREFIX:
            file_error(parser, path, "is not a .npy file")
        file.seek(0)
        return npy_format.read_array(file, allow_pickle=False)


def read_csv(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no data": told as one line
        return numpy.loadtxt(path, delimiter=",", ndmin=1)


class OutputFile:
    """FILE, written whole or not at all: a temporary file beside it, made
    at once (so that a folder it cannot be written in is told before any
    download), takes the array, reaches the disk, and only then becomes
    FILE. discard() removes it, whatever happened."""

    def __init__(self, path, overwrite):
        self.path, self.overwrite = path, overwrite
        self.npy = pathlib.Path(path).suffix.lower() == ".npy"
        if not overwrite and os.path.lexists(path):
            raise FileExistsError
        folder, name = os.path.split(path)
        self.temporary = os.path.join(
            folder, f".{name}.{secrets.token_hex(4)}.part")
        self.file = open(self.temporary, "xb")

    def save(self, array):
        with self.file:
            # To the open file: numpy.save would add .npy to a name that
            # does not end in it (X.NPY).
            if self.npy:
                numpy.save(self.file, array, allow_pickle=False)
            else:
                numpy.savetxt(self.file, array, delimiter=",")
            self.file.flush()
            os.fsync(self.file.fileno())
        if self.overwrite:
            os.replace(self.temporary, self.path)
        else:
            self.publish()

    def publish(self):
        """FILE as a new name of the temporary file: unlike a rename, a
        link refuses a FILE that appeared during the download."""
        try:
            os.link(self.temporary, self.path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links (FAT)
            if os.path.lexists(self.path):
                raise FileExistsError from None
            os.replace(self.temporary, self.path)

    def discard(self):
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)


@contextlib.contextmanager
def writing(parser, path):
    """An OSError in the block as one error line naming ``path``."""
    try:
        yield
    except FileExistsError:
        file_error(parser, path, "exists: give -f to replace it")
    except OSError as error:
        file_error(parser, path, f"cannot write it: {reason(error)}")


@contextlib.contextmanager
def output_file(parser, args):
    """The OutputFile of -o FILE (None without -o), removed on leaving."""
    path = getattr(args, "client:output", None)
    if path is None:
        yield None
        return
    array_format(parser, path)
    with writing(parser, path):
        output = OutputFile(path, getattr(args, "client:overwrite"))
    try:
        yield output
    finally:
        output.discard()


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


def call_with_arrays(parser, args, data, ssl_config):
    """A command that takes (``data``) or returns an array, through
    bulk.py: its result; else one error line and exit code 1."""
    _, keywords = call_arguments(args)
    keywords.update({parameter.name: getattr(args, destination(parameter))
                     for parameter in args.parameters
                     if is_positional(parameter)
                     and given(args, parameter)})
    connection = dict(ssl_config=ssl_config, timeout=args.timeout,
                      target=getattr(args, "client:target") + bulk.SUFFIX,
                      path=getattr(args, "client:array_path"))
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
    except bulk.ControllerUnreachable:
        raise
    except Exception as error:  # the driver's own, ConnectionError too
        fail(parser, args, error)


def ssl_files(parser, args):
    """--ssl CERT KEY PEER as sipyco's configuration, checked before
    connecting; None without --ssl."""
    if args.ssl is None:
        return None
    config = SimpleSSLConfig(*args.ssl)
    try:
        config.create_client_context()
    except OSError as error:  # ssl.SSLError too
        missing = [path for path in args.ssl if not os.path.isfile(path)]
        problem = f"{missing[0]}: no such file" if missing else error
        parser.exit(1, f"{parser.prog}: error: cannot use the --ssl files: "
                       f"{problem}\n")
    return config


def result_of(parser, args, data, ssl_config):
    """The command's result, from the controller at -s/-p."""
    remote = connect(parser, args, ssl_config)
    if data is not None or returns_array(getattr(args, "client:method")):
        remote.close_rpc()
        return call_with_arrays(parser, args, data, ssl_config)
    try:
        return call(parser, remote, args)
    finally:
        remote.close_rpc()


def main(make_argparser):
    """Run the command that the command line gives; ``make_argparser()``
    builds the parser (argparser(), with the device's driver)."""
    try:
        parser = make_argparser()
    except ParameterClash as error:
        print(f"{pathlib.Path(sys.argv[0]).stem}: error: {error}",
              file=sys.stderr)
        sys.exit(1)
    args = parser.parse_args()
    common_args.init_logger_from_args(args)

    # The files first: a mistyped name, or a folder that cannot be written
    # in, needs no controller to be told.
    uploaded = array_parameter(args.parameters)
    data = (read_array(parser, getattr(args, destination(uploaded)))
            if uploaded is not None else None)
    ssl_config = ssl_files(parser, args)
    with output_file(parser, args) as output:
        try:
            result = result_of(parser, args, data, ssl_config)
        except bulk.ControllerUnreachable as error:
            logger.info("connecting failed", exc_info=True)
            parser.exit(1, f"{parser.prog}: error: cannot reach the "
                           f"controller at {error}\n")
        if output is not None:
            with writing(parser, output.path):
                output.save(result)
            return
    for line in output_lines(result):
        print(line)
