"""Check every answer before the NDSP is written; report all problems at once.

Standard library only: under pipx or uvx, cookiecutter's interpreter has
nothing else. The answers arrive as JSON data, never as code.
"""

import json
import keyword
import re
import sys

ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
ARTIQ_ASSIGNED_PORTS = frozenset(json.loads(
    r'''{{ artiq_assigned_ports | tojson }}'''))
LICENSES = json.loads(r'''{{ licenses | tojson }}''')
DRIVER_APIS = ("sync", "asyncio")
BOOLEAN_KEYS = ("include_client", "run_checks")

MAX_NAME_LENGTH = 24
MAX_TITLE_LENGTH = 60
MAX_AUTHOR_LENGTH = 100
# Packages an NDSP imports, or that its repository already uses as a folder.
RESERVED_NAMES = frozenset({"sipyco", "artiq", "artiq_comtools", "numpy",
                            "pytest", "setuptools", "tests"})
STDLIB_MODULES = getattr(sys, "stdlib_module_names", frozenset())
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


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
    if name in STDLIB_MODULES or name in RESERVED_NAMES:
        return [f"would shadow the '{name}' module; add a vendor prefix "
                f"(e.g. 'acme_{name}')"]
    return []


def text_problems(text, max_length):
    """Why free text (a title, a name) cannot be rendered into the files."""
    if not text.strip():
        return ["is empty"]
    if not text.isprintable():
        return ["holds a control character or line break; use one line "
                "of printable text"]
    if len(repr(text)) - 2 > max_length:
        return [f"is too long: at most {max_length} characters, a "
                "backslash counting as two"]
    return []


def port_problems(port):
    """Why ``port`` cannot be the controller's default TCP port."""
    if not re.fullmatch(r"[0-9]+", str(port)):
        return ["must be a whole number such as 3300"]
    port = int(port)
    if not 1024 <= port <= 65535:
        return ["must be from 1024 to 65535 (ports below 1024 need root)"]
    if port in ARTIQ_ASSIGNED_PORTS:
        return ["is one of ARTIQ's own ports (1066-1068, 1380-1386, "
                "3248-3273, 3275, 3276); leave the default, derived from "
                "the device name"]
    return []


def choice_problems(value, choices):
    if value not in choices:
        return ["must be one of: " + ", ".join(choices)]
    return []


def problems(answers):
    """Every problem with ``answers``, as (key, message) pairs."""
    found = {
        "device_name": device_name_problems(answers["device_name"]),
        "device_title": text_problems(answers["device_title"],
                                      MAX_TITLE_LENGTH),
        "default_port": port_problems(answers["default_port"]),
        "driver_api": choice_problems(answers["driver_api"], DRIVER_APIS),
        "license": choice_problems(answers["license"], LICENSES),
        "author_name": text_problems(answers["author_name"],
                                     MAX_AUTHOR_LENGTH),
        "author_email": ([] if EMAIL.fullmatch(answers["author_email"]) else
                         ["must look like name@example.org"]),
    }
    for key in BOOLEAN_KEYS:
        if not isinstance(answers[key], bool):
            found[key] = ["must be yes or no (a JSON true or false)"]
    return [(key, message)
            for key, messages in found.items() for message in messages]


def main():
    found = problems(ANSWERS)
    if not found:
        return 0
    print(f"ndsp-template: {len(found)} answer(s) cannot be used; "
          "nothing was generated:", file=sys.stderr)
    for key, message in found:
        print(f"  {key} = {ANSWERS[key]!r}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
