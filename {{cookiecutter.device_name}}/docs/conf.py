"""Sphinx configuration: the driver's API, and the command lines as
get_argparser() builds them. sphinx-build -W -b html docs docs/_build"""

import pathlib
import sys

# The package from this checkout, installed or not.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

project = "{{ cookiecutter.device_name }}"
author = {{ cookiecutter.author_name | py_string }}
copyright = "{% now 'utc', '%Y' %}, " + author
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinxarg.ext"]
autodoc_member_order = "bysource"
html_theme = "alabaster"
