"""The registry of options, and the Jinja filters and globals, of the
ndsp-template.

Nothing beyond what cookiecutter itself brings is imported.

Cookiecutter loads this module through ``_extensions`` in cookiecutter.json;
the hooks are rendered with the same environment, so the registry and the
port rules below are the single source of truth for the template, the hooks
and the tests.
"""

import importlib.metadata
import importlib.util
import pathlib
import re
import string
import sys
import unicodedata
import zlib

from jinja2.ext import Extension


# 2.7 is the first to read yes/no answers ("include_client=yes") on the
# command line; 2.7.0 still reports __version__ 2.6.0, so ask its metadata.
MIN_COOKIECUTTER = (2, 7)


def version_tuple(version):
    """``"2.7.1"`` -> ``(2, 7, 1)``; a pre-release suffix is dropped."""
    return tuple(int(part) for part in
                 re.findall(r"\d+", version.split("+")[0])[:3])


def check_cookiecutter(version):
    """Raise ImportError, which cookiecutter turns into one clear line, on
    a cookiecutter too old for this template.

    cookiecutter loads this module before it asks the first question, on
    every version: the check needs no pre_prompt hook, which would make
    cookiecutter copy the whole template folder (.git, a .venv and
    whatever else lies in the clone) at every generation.
    """
    if version_tuple(version) >= MIN_COOKIECUTTER:
        return
    wanted = ".".join(map(str, MIN_COOKIECUTTER))
    raise ImportError(
        f"ndsp-template needs cookiecutter {wanted} or newer, this is "
        f"{version}: run python3 -m pip install 'cookiecutter>={wanted}' "
        "(in a virtual environment), or pipx run / uvx cookiecutter")


check_cookiecutter(importlib.metadata.version("cookiecutter"))

# The ARTIQ manual's table of default network ports
# (doc/manual/default_network_ports.rst), in two parts. ARTIQ's own
# services: refused, since a controller there would collide with them.
ARTIQ_PORTS = {
    1066: "Master (logging input)",
    1067: "Master (broadcasts)",
    1068: "Core device logging controller",
    1380: "Core device (management)",
    1381: "Core device (main)",
    1382: "Core device (analyzer)",
    1383: "MonInj (core device or proxy)",
    1384: "MonInj (proxy control)",
    1385: "Core analyzer proxy (proxy)",
    1386: "Core analyzer proxy (control)",
    3248: "InfluxDB bridge",
    3249: "Controller manager",
    3250: "Master (notifications)",
    3251: "Master (control)",
    3275: "InfluxDB schedule bridge",
}
# Out-of-tree NDSPs: accepted with a warning naming the NDSP, so that a
# port of one of them keeps its published port.
NDSP_PORTS = {
    3252: "PDQ2",
    3253: "LDA",
    3254: "Novatech 409B",
    3255: "Thorlabs T-Cube",
    3256: "Korad KA3005P",
    3257: "Newfocus 8742",
    3258: "PICam",
    **{port: "PTB Drivers" for port in range(3259, 3271)},
    3271: "HUT2",
    3272: "TOPTICA Laser SDK",
    3273: "HighFinesse",
    3276: "InfluxDB driver",
}


# The one registry of options: for each answer chosen among values, the
# values it takes (as cookiecutter.json offers them, default first), one
# record per value where a value has facts of its own, and the files it
# brings. The hooks read it through the Jinja environment, the template's
# tests and benchmark directly; a test checks every path below exists.
#   records:     per value, its facts (for transport: the example device,
#                the address the README shows, the PyPI libraries it needs
#                at run time (its extra), the modules they install, which
#                --simulation must not import)
#   adds:        generated files (in the project; {name} is device_name),
#                each kept only for the values listed with it (a file
#                under two options, only where both keep it)
#   fragments:   the template's files its values choose with {% include %};
#                {key} stands for an answer (__device follows transport,
#                or is pymeasure)
#   shapes_code: its answers change the generated code, so the tests
#                render every combination of such options
#   label:       a yes/no option's name in test ids ("client", "no_client")
TRANSPORTS = {
    "console": {"device": "console", "address": "console", "libraries": [],
                "modules": []},
    "serial": {"device": "scpi", "address": "/dev/ttyUSB0",
               "libraries": ["pyserial"], "modules": ["serial"]},
    "tcp": {"device": "scpi", "address": "192.168.1.50:5025",
            "libraries": [], "modules": []},
    # pyvisa-py opens serial (ASRL) resources only with pyserial, which it
    # makes an extra ("pyvisa-py[serial]"): named here itself, so that the
    # flake, which takes nixpkgs names, gets it too.
    "visa": {"device": "scpi", "address": "TCPIP::192.168.1.50::INSTR",
             "libraries": ["pyvisa", "pyvisa-py", "pyserial"],
             "modules": ["pyvisa", "pyvisa_py"]},
}
# pymeasure's minor release is pinned: the served method list follows its
# declarations, and a minor release may rename them.
PYMEASURE = "pymeasure>=0.16,<0.17"
# Where the driver comes from. Per value: the PyPI libraries it needs at
# run time (None: the transport's), the example address (None: the
# transport's), the modules without which its
# controller cannot start (the smoke test is skipped without them), and
# the modules of the transports' libraries that its --simulation imports
# all the same (pymeasure imports pyvisa and pyserial with itself).
DRIVER_SOURCES = {
    "example": {"libraries": None, "needs": [], "imports": [],
                "address": None},
    # pyvisa-py: the default --visa-library; pyserial: its ASRL resources;
    # pyvisa-sim: --simulation-yaml.
    "pymeasure": {"libraries": [PYMEASURE, "pyvisa-py", "pyserial",
                                "pyvisa-sim"],
                  "needs": ["pymeasure"], "imports": ["pyvisa", "serial"],
                  "address": "TCPIP::192.168.1.50::INSTR"},
}
# The runtime's modules that serve a pymeasure class.
PYMEASURE_RUNTIME = ["pymeasure_classes", "pymeasure_driver",
                     "pymeasure_export", "pymeasure_fake"]
OPTIONS = {
    "transport": {
        "values": list(TRANSPORTS),
        "records": TRANSPORTS,
        "fragments": ["templates/readme/transport_{transport}.md",
                      "templates/drivers/{__device}.py",
                      "templates/fake_devices/{__device}.py",
                      "templates/tests/device_{__device}.py",
                      "templates/readme/device_{__device}.md"],
        "shapes_code": True,
    },
    "driver_api": {
        "values": ["sync", "asyncio"],
        "fragments": ["templates/tests/calls_{driver_api}.py"],
        "shapes_code": True,
    },
    # Not among the options that shape the code: the tests render the
    # pymeasure NDSPs on their own and install one (a pymeasure project
    # changes with its class, not with the transport or driver_api).
    "driver_source": {
        "values": list(DRIVER_SOURCES),
        "records": DRIVER_SOURCES,
        "fragments": ["templates/readme/support_{driver_source}.md",
                      "templates/readme/address_{driver_source}.md"],
        "adds": {"{name}/fake_device.py": ["example"],
                 "tests/test_device_bulk.py": ["example"],
                 **{f"{{name}}/ndsp_runtime/{module}.py": ["pymeasure"]
                    for module in PYMEASURE_RUNTIME}},
    },
    "include_client": {
        "values": [False, True],
        "adds": {"{name}/aqcli_{name}.py": [True],
                 "tests/test_contract_client.py": [True],
                 "tests/test_device_bulk.py": [True]},
        "shapes_code": True,
        "label": "client",
    },
    "include_mediator": {
        "values": [False, True],
        "adds": {"{name}/mediator.py": [True],
                 "docs/mediator.rst": [True],
                 "tests/test_contract_mediator.py": [True]},
        "shapes_code": True,
        "label": "mediator",
    },
    "remote_exec": {
        "values": [False, True],
        "adds": {"tests/test_contract_remote_exec.py": [True]},
        "shapes_code": True,
        "label": "rexec",
    },
    "license": {
        "values": ["LGPL-3.0-or-later", "MIT", "BSD-3-Clause",
                   "GPL-3.0-or-later", "Apache-2.0"],
        "fragments": ["templates/licenses/{license}.txt"],
    },
    "run_checks": {"values": [True, False]},
}
# Answers that cannot work together, and why, as ({key: value, ...},
# reason): the pre-generation hook refuses them, and the tests leave them
# out of their combinations.
CONFLICTS = []

# Derived ports land here: clear of ARTIQ, of the privileged ports and of the
# ephemeral range that operating systems hand out to clients (32768 and up).
DERIVED_PORT_RANGE = range(10000, 30000)

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t",
                 "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NIX_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": "\\n",
                              "\r": "\\r", "\t": "\\t"})


def derived_port(device_name):
    """A default TCP port that depends only on the device name."""
    checksum = zlib.crc32(str(device_name).encode("utf-8"))
    port = DERIVED_PORT_RANGE[checksum % len(DERIVED_PORT_RANGE)]
    while port in ARTIQ_PORTS or port in NDSP_PORTS:
        port += 1
    return port


def port_ranges(ports):
    """``[1066, 1067, 1068, 3275]`` -> ``"1066-1068, 3275"``."""
    ranges = []
    for port in sorted(ports):
        if ranges and ranges[-1][1] == port - 1:
            ranges[-1][1] = port
        else:
            ranges.append([port, port])
    return ", ".join(str(first) if first == last else f"{first}-{last}"
                     for first, last in ranges)


# Bytes in a file name on common file systems (ext4, APFS, NTFS).
LONGEST_FILE_NAME = 255


def project_folder(device_name):
    """The name, unchanged, once it is sure to make a folder of its own.

    cookiecutter creates the project's folder before the pre-generation hook
    runs: an empty name would be the output folder itself, a path would
    write elsewhere. Stop at once with one line instead.
    """
    name = str(device_name)
    shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "..."
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        raise SystemExit(
            f"ndsp-template: device_name = {shown}: must be a lowercase "
            "Python identifier such as 'acme_psu' (it names the project's "
            "folder)")
    if len(name.encode("utf-8")) > LONGEST_FILE_NAME - len("aqctl_.py"):
        raise SystemExit(
            f"ndsp-template: device_name = {shown}: is {len(name)} "
            "characters long, too long for a file name: at most 24 keep "
            "the generated code readable")
    return name


def class_name(device_name):
    """``my_psu`` -> ``MyPsu``: the driver's class name."""
    return "".join(part[:1].upper() + part[1:]
                   for part in str(device_name).split("_"))


def title_from_name(device_name):
    """``acme_psu`` -> ``Acme Psu``: the default device title."""
    return " ".join(part[:1].upper() + part[1:]
                    for part in str(device_name).split("_") if part)


# The generated server relies on the feature negotiation (pyon_v2) that
# arrived in sipyco 1.10 (--ssl needs 1.9). ARTIQ's release-8 pins 1.8.
SIPYCO = "sipyco>=1.10"


def project_dependencies(answers):
    """What pyproject.toml depends on (and flake.nix reads there): sipyco
    (by name with its minimum version; the flake takes it from the ARTIQ
    flake), then NumPy (the driver's arrays), the chosen transport's
    libraries (every transport ships, the others are extras), and tqdm
    for the client's progress bars."""
    libraries = DRIVER_SOURCES[answers.get("driver_source", "example")][
        "libraries"]
    if libraries is None:
        libraries = TRANSPORTS[answers["transport"]]["libraries"]
    return [SIPYCO, "numpy", *libraries,
            *(["tqdm"] if answers["include_client"] else [])]


def transport_extras():
    """pyproject's optional dependencies: an extra per transport that
    needs a library."""
    return {name: record["libraries"] for name, record in TRANSPORTS.items()
            if record["libraries"]}


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


def nix_string(text):
    """A Nix string holding ``text`` exactly: no ``${`` is interpolated."""
    escaped = str(text).translate(_NIX_ESCAPES).replace("${", "\\${")
    return '"' + escaped + '"'


def rst_escape(text):
    """``text`` as reStructuredText shows it: every ASCII punctuation mark
    backslash-escaped, so that none starts markup."""
    return "".join("\\" + char if char in string.punctuation else char
                   for char in str(text))


# Text that reST reads as it is: letters, digits, spaces and a few marks,
# no "(" or ")" in the first word ("a)", "(1)" would start a list).
_PLAIN_RST = re.compile(
    r"[^\W_](?:[^\W_]|[,&/+'-])*(?: (?:[^\W_]|[ ,&/+'()-])*)?")


def rst_text(text):
    """``text`` for reST: as it is where nothing in it is markup (as the
    manual's own rows are), else every punctuation mark escaped."""
    text = str(text)
    return text if _PLAIN_RST.fullmatch(text) else rst_escape(text)


def display_width(text):
    """Columns ``text`` takes in a reST table: wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1
               for char in text)


# The ARTIQ manual's doc/manual/default_network_ports.rst: its columns'
# widths, between "| " and " |".
PORT_TABLE_WIDTHS = (31, 12)


def _port_table_cells(answers):
    return [rst_text(answers["device_title"]) + " (out-of-tree)",
            str(answers["default_port"])]


def port_table_row(answers):
    """The port table's row for this NDSP, and the border line under it:
    as wide as the manual's table, or wider where the title needs it."""
    cells = _port_table_cells(answers)
    widths = [max(width, display_width(cell))
              for width, cell in zip(PORT_TABLE_WIDTHS, cells)]
    row = "".join(f"| {cell}{' ' * (width - display_width(cell))} "
                  for cell, width in zip(cells, widths))
    border = "".join("+" + "-" * (width + 2) for width in widths)
    return f"{row}|\n{border}+"


def port_table_widening(answers):
    """Columns the manual's port table's first column must gain for this
    NDSP's row (0: none)."""
    component = _port_table_cells(answers)[0]
    return max(0, display_width(component) - PORT_TABLE_WIDTHS[0])


def csv_field(text):
    """A field of reST's csv-table: quoted where it holds a comma or a
    quote (doubled)."""
    text = str(text)
    if re.search(r'[,"]', text):
        return '"' + text.replace('"', '""') + '"'
    return text


def ndsp_list_row(answers):
    """The row of the manual's doc/manual/list_of_ndsps.rst (Equipment,
    Nix package, MSYS2 package, Documentation, URL) for this NDSP: no
    package and no documentation yet, its repository's URL to fill in."""
    url = f"https://github.com/YOUR-ORG/{answers['device_name']}"
    return ", ".join([csv_field(rst_text(answers["device_title"])),
                      "Not available", "Not available", "Not available",
                      f"`GitHub <{url}>`__"])


def toml_array(items):
    """A TOML array of strings, on one line."""
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def py_string(text):
    """A Python string literal holding ``text``, double-quoted if possible."""
    literal = repr(str(text))
    # repr() single-quotes unless the text holds a ' alone; with no quote
    # inside at all, the quotes may be swapped as they are.
    if literal.startswith("'") and '"' not in literal:
        literal = '"' + literal[1:-1] + '"'
    return literal


def register(environment):
    """Give ``environment`` the filters and globals above. Every version of
    this module keeps this entry point: an older one calls it on a newer
    one (see current_version)."""
    environment.filters.update(
        derived_port=derived_port,
        project_folder=project_folder,
        class_name=class_name,
        title_from_name=title_from_name,
        project_dependencies=project_dependencies,
        toml_string=toml_string,
        toml_array=toml_array,
        py_string=py_string,
        nix_string=nix_string,
        rst_escape=rst_escape,
        port_table_row=port_table_row,
        port_table_widening=port_table_widening,
        ndsp_list_row=ndsp_list_row,
        port_ranges=port_ranges,
    )
    environment.globals.update(
        artiq_ports=ARTIQ_PORTS,
        ndsp_ports=NDSP_PORTS,
        options=OPTIONS,
        conflicts=CONFLICTS,
        transports=TRANSPORTS,
        driver_sources=DRIVER_SOURCES,
        transport_extras=transport_extras(),
    )


_LOADED_SOURCE = pathlib.Path(__file__).read_bytes()


def current_version():
    """This module as its file reads now.

    cruft update renders the project's template version and then the
    newest from one folder, in one process: Python's import cache would
    hand the newer template this older module (cruft issue #253). So a
    changed file is loaded afresh, and replaces this module. (Template
    versions before this function named the module local_extensions: the
    new name keeps them from lending theirs.)
    """
    path = pathlib.Path(__file__)
    if path.read_bytes() == _LOADED_SOURCE:
        return sys.modules[__name__]
    spec = importlib.util.spec_from_file_location(__name__, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[__name__] = module
    return module


class NdspExtension(Extension):
    """Registers the filters and globals above, of the current version."""

    def __init__(self, environment):
        super().__init__(environment)
        current_version().register(environment)
