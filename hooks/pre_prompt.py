"""Before any question: stop on a cookiecutter too old for this template.

cookiecutter runs this hook (from 2.4 on) with its own interpreter, before
it reads cookiecutter.json; ndsp_extensions.py runs the same check for
older ones. Standard library only: under pipx or uvx, cookiecutter's
Python has nothing else.
"""

import importlib.metadata
import re
import sys

# 2.7 is the first to read yes/no answers ("include_client=yes") on the
# command line; 2.7.0 still reports __version__ 2.6.0, so ask its metadata.
MIN_COOKIECUTTER = (2, 7)


def version_tuple(version):
    """``"2.7.1"`` -> ``(2, 7, 1)``; a pre-release suffix is dropped."""
    return tuple(int(part) for part in
                 re.findall(r"\d+", version.split("+")[0])[:3])


def too_old(version):
    """One line saying what to do, or None if ``version`` will do."""
    if version_tuple(version) >= MIN_COOKIECUTTER:
        return None
    wanted = ".".join(map(str, MIN_COOKIECUTTER))
    return (f"ndsp-template needs cookiecutter {wanted} or newer, this is "
            f"{version}: run python3 -m pip install 'cookiecutter>={wanted}' "
            "(in a virtual environment), or pipx run / uvx cookiecutter")


if __name__ == "__main__":
    problem = too_old(importlib.metadata.version("cookiecutter"))
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
