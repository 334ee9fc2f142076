"""Jinja filters and globals for the ndsp-template (standard library only).

Cookiecutter loads this module through ``_extensions`` in cookiecutter.json;
the hooks are rendered with the same environment, so the port rules below are
the single source of truth for the template, the hooks and the tests.
"""

import pathlib
import zlib

from jinja2.ext import Extension

# Ports ARTIQ assigns to its own services; 3249 is artiq_ctlmgr's control port.
ARTIQ_ASSIGNED_PORTS = sorted(
    {*range(1066, 1069), *range(1380, 1387), *range(3248, 3274), 3275, 3276})

# One licence text per SPDX id; cookiecutter.json offers exactly these.
LICENSES = sorted(path.stem for path in (
    pathlib.Path(__file__).parent / "templates" / "licenses").glob("*.txt"))

# Derived ports land here: clear of ARTIQ, of the privileged ports and of the
# ephemeral range that operating systems hand out to clients (32768 and up).
DERIVED_PORT_RANGE = range(10000, 30000)

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t",
                 "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def derived_port(device_name):
    """A default TCP port that depends only on the device name."""
    checksum = zlib.crc32(str(device_name).encode("utf-8"))
    port = DERIVED_PORT_RANGE[checksum % len(DERIVED_PORT_RANGE)]
    while port in ARTIQ_ASSIGNED_PORTS:
        port += 1
    return port


def class_name(device_name):
    """``my_psu`` -> ``MyPsu``: the driver's class name."""
    return "".join(part[:1].upper() + part[1:]
                   for part in str(device_name).split("_"))


def toml_string(text):
    """A TOML basic string holding ``text`` exactly (UTF-8 kept as is)."""
    escaped = []
    for char in str(text):
        if char in _TOML_ESCAPES:
            escaped.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append("\\u%04X" % ord(char))
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def py_string(text):
    """A Python string literal holding ``text``, double-quoted if possible."""
    literal = repr(str(text))
    # repr() single-quotes unless the text holds a ' alone; with no quote
    # inside at all, the quotes may be swapped as they are.
    if literal.startswith("'") and '"' not in literal:
        literal = '"' + literal[1:-1] + '"'
    return literal


class NdspExtension(Extension):
    """Registers the filters and globals above."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(
            derived_port=derived_port,
            class_name=class_name,
            toml_string=toml_string,
            py_string=py_string,
        )
        environment.globals.update(
            artiq_assigned_ports=ARTIQ_ASSIGNED_PORTS,
            licenses=LICENSES,
        )
