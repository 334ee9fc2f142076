"""Sphinx configuration: the driver's API, and the command lines as
get_argparser() builds them. sphinx-build -W -b html docs docs/_build"""

import pathlib
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The package from this checkout, installed or not.
sys.path.insert(0, str(ROOT))

project = "{{ cookiecutter.device_name }}"
author = {{ cookiecutter.author_name | py_string }}
copyright = "{% now 'utc', '%Y' %}, " + author
# The version is written once, in pyproject.toml (flake.nix reads it too).
with open(ROOT / "pyproject.toml", "rb") as file:
    release = tomllib.load(file)["project"]["version"]

extensions = ["sphinx.ext.autodoc", "sphinxarg.ext"]{% if cookiecutter.include_mediator %}
# The mediator imports ARTIQ, which building the docs does not need
# (Sphinx stands in for it: keep ARTIQ out of what runs on import).
autodoc_mock_imports = ["artiq"]{% endif %}
autodoc_member_order = "bysource"
html_theme = "alabaster"
