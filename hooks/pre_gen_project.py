"""Check every answer before the NDSP is written; report all problems at once.

Standard library only: under pipx or uvx, cookiecutter's interpreter has
nothing else. The answers arrive as JSON data, never as code.
"""

import importlib
import importlib.util
import json
import keyword
import os
import pathlib
import pkgutil
import re
import sys
import sysconfig

ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
# The ARTIQ manual's table of ports, in ndsp_extensions.py: {port: name}.
ARTIQ_PORTS = {int(port): service for port, service in json.loads(
    r'''{{ artiq_ports | tojson }}''').items()}
ARTIQ_PORT_RANGES = json.loads(r'''{{ artiq_ports | port_ranges | tojson }}''')
NDSP_PORTS = {int(port): ndsp for port, ndsp in json.loads(
    r'''{{ ndsp_ports | tojson }}''').items()}
# The registry of options in ndsp_extensions.py: the values each takes.
# On the command line cookiecutter itself refuses an unknown choice or a
# yes/no it cannot read; answers from a replay file or cruft's .cruft.json
# reach this hook unchecked.
OPTIONS = json.loads(r'''{{ options | tojson }}''')
# Answers that cannot work together: [({key: value, ...}, why), ...].
CONFLICTS = json.loads(r'''{{ conflicts | tojson }}''')

MAX_NAME_LENGTH = 24
MAX_TITLE_LENGTH = 60
MAX_AUTHOR_LENGTH = 100
# The driver names the path on a line of its own, within 79 columns.
MAX_CLASS_PATH_LENGTH = 68
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What an NDSP, its tests and the tools that run them import, and its own
# folders: a package of that name would shadow the real one.
RESERVED_NAMES = frozenset({
    "sipyco", "artiq", "artiq_comtools", "numpy", "pybase64", "aiohttp",
    "lmdb", "platformdirs", "serial", "serial_asyncio", "pyvisa",
    "pyvisa_py", "pyvisa_sim", "pytest", "_pytest", "pluggy", "hypothesis",
    "conftest", "flake8", "pip", "setuptools", "tests",
})
# Standard-library modules that Python 3.11 and 3.12 still have (PEP 594,
# PEP 632), and those that 3.14 added: generated projects run on 3.11 to
# 3.14, whatever Python runs cookiecutter.
OTHER_PYTHONS_STDLIB_MODULES = frozenset({
    "annotationlib", "compression",
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk",
    "crypt", "distutils", "imghdr", "imp", "lib2to3", "mailcap", "msilib",
    "nis", "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd",
    "sunau", "telnetlib", "uu", "xdrlib",
})
# Read, then removed, by the post-generation hook.
OVERWRITE_MARKER = ".ndsp-template-overwrite"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def stdlib_module_names():
    """The standard library's top-level modules, on any Python 3."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9 and older: list the stdlib folders.
        folders = {sysconfig.get_paths()["stdlib"],
                   sysconfig.get_paths()["platstdlib"]}
        folders |= {os.path.join(folder, "lib-dynload") for folder in folders}
        names = {module.name for module in pkgutil.iter_modules(folders)}
        names |= set(sys.builtin_module_names)
    return frozenset(names) | OTHER_PYTHONS_STDLIB_MODULES


def device_name_problems(name):
    """Why ``name`` cannot name the package, aqctl_<name>, the RPC target."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return ["must be a lowercase Python identifier: a letter, then "
                "letters, digits or '_' (e.g. 'thorlabs_mdt')"]
    if len(name) > MAX_NAME_LENGTH:
        return [f"is {len(name)} characters long; at most "
                f"{MAX_NAME_LENGTH} keep the generated code readable"]
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return ["is a Python keyword; add a prefix or suffix "
                f"(e.g. '{name}_dev')"]
    if name in stdlib_module_names() or name in RESERVED_NAMES:
        return [f"would shadow the '{name}' module; add a vendor prefix "
                f"(e.g. 'acme_{name}')"]
    return []


def text_problems(text, max_length):
    """Why free text (a title, a name) cannot be rendered into the files."""
    if not text.strip():
        return ["is empty"]
    if not text.isprintable():
        return ["holds a control character, a line break or bytes that "
                "are not UTF-8; use one line of printable text"]
    if len(repr(text)) - 2 > max_length:
        return [f"is too long: at most {max_length} characters, a "
                "backslash counting as two"]
    return []


def port_problems(port):
    """Why ``port``, rendered as it is into Python, cannot be the port."""
    if not re.fullmatch(r"[0-9]+", str(port)):
        return ["must be a whole number such as 3300"]
    if str(port) != str(int(port)):
        return [f"has a leading zero, a SyntaxError in Python: write "
                f"{int(port)}"]
    port = int(port)
    if not 1024 <= port <= 65535:
        return ["must be from 1024 to 65535 (ports below 1024 need root)"]
    if port in ARTIQ_PORTS:
        return [f"is ARTIQ's own port for the {ARTIQ_PORTS[port]}; ARTIQ's "
                f"are {ARTIQ_PORT_RANGES}: leave the default, derived from "
                "the device name"]
    return []


def port_warnings(port):
    """What to know about a port ARTIQ's manual gives another NDSP."""
    if str(port).isdigit() and int(port) in NDSP_PORTS:
        return [f"is the port the ARTIQ manual lists for the "
                f"{NDSP_PORTS[int(port)]} NDSP: right for a port of it, "
                "otherwise the two collide on a host that runs both"]
    return []


def option_problems(value, values):
    """Why ``value`` is none of the values an option takes."""
    if all(isinstance(choice, bool) for choice in values):
        if not isinstance(value, bool):
            return ["must be yes or no (a JSON true or false)"]
        return []
    if value not in values:
        return ["must be one of: " + ", ".join(values)]
    return []


def class_path_problems(path):
    """Why ``path`` names no instrument class that can be served: its
    form, then, where this Python has the package, the class itself."""
    example = "pymeasure.instruments.keithley.Keithley2400"
    parts = path.split(".")
    if len(parts) < 2 or not all(IDENTIFIER.fullmatch(part) and
                                 not keyword.iskeyword(part)
                                 for part in parts):
        return [f"must be a module and a class, dotted, such as {example}"]
    if len(path) > MAX_CLASS_PATH_LENGTH:
        return [f"is too long: at most {MAX_CLASS_PATH_LENGTH} characters"]
    if importlib.util.find_spec(parts[0]) is None:
        return []  # checked when the controller starts
    module, name = ".".join(parts[:-1]), parts[-1]
    try:
        found = getattr(importlib.import_module(module), name, None)
    except Exception as error:
        return [f"cannot be imported: {type(error).__name__}: {error}"]
    if not isinstance(found, type):
        return [f"{module} has no class {name} (is the name's case "
                f"right? e.g. {example})"]
    return []


def problems(answers):
    """Every problem with ``answers``, as (key, message) pairs."""
    found = {
        "device_name": device_name_problems(answers["device_name"]),
        "device_title": text_problems(answers["device_title"],
                                      MAX_TITLE_LENGTH),
        "default_port": port_problems(answers["default_port"]),
        "author_name": text_problems(answers["author_name"],
                                     MAX_AUTHOR_LENGTH),
        "author_email": ([] if EMAIL.fullmatch(answers["author_email"]) else
                         ["must look like name@example.org"]),
    }
    if not found["device_name"] and keyword.iskeyword(
            answers["__driver_class"]):
        found["device_name"] = [
            f"makes the class name {answers['__driver_class']}, a Python "
            f"keyword; add a suffix (e.g. '{answers['device_name']}_dev')"]
    for key, option in OPTIONS.items():
        found[key] = option_problems(answers[key], option["values"])
    if answers["driver_source"] == "pymeasure":
        found["pymeasure_class"] = class_path_problems(
            answers["pymeasure_class"])
    for together, why in CONFLICTS:
        if all(answers[key] == value for key, value in together.items()):
            found.setdefault(next(iter(together)), []).append(why)
    return [(key, message)
            for key, messages in found.items() for message in messages]


def mark_overwrite(project):
    """Tell the post-generation hook that the folder held files already.

    cookiecutter -f writes over an existing folder and, should a check fail,
    leaves it; only this hook sees the folder before it is written.
    """
    if any(project.iterdir()):
        (project / OVERWRITE_MARKER).touch()


def main(answers=ANSWERS, project=None):
    """Report every problem with ``answers`` and return 1, or say what to
    know about them, mark ``project`` (the folder cookiecutter made) and
    return 0."""
    found = problems(answers)
    if found:
        print(f"ndsp-template: {len(found)} answer(s) cannot be used; "
              "nothing was generated:", file=sys.stderr)
        for key, message in found:
            print(f"  {key} = {answers[key]!r}: {message}", file=sys.stderr)
        return 1
    for message in port_warnings(answers["default_port"]):
        print(f"ndsp-template: warning: default_port = "
              f"{answers['default_port']} {message}", file=sys.stderr)
    mark_overwrite(project or pathlib.Path.cwd())
    return 0


if __name__ == "__main__":
    sys.exit(main())
