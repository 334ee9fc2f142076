"""The generic runtime's client (ndsp_runtime.client), in this process: a
command per public method of a driver class, its arguments mapped the way
Python binds them."""

import argparse
import inspect
import io
import sys
import textwrap

import pytest

from conftest import HAS_SIPYCO, TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the client is built on sipyco's "
                "command-line helpers and Client", allow_module_level=True)

from ndsp_runtime import client  # noqa: E402


class Shapes:
    """A driver with every shape of signature."""

    def do(self, cmd: str, xx: int = None, *nn: int):
        """Send ``cmd``, with an optional value, then any number more."""

    def finish(self, code: int = 0):
        """Finish, with a code. Then some more words that are no summary.

        A paragraph after the summary.
        """

    def tune(self, level: float, *, unit: str = "dB", force: bool):
        """Move the output to the given level, as slowly as the device
        allows. Then more."""

    def levels(self, values: list[float], scale: float = 1.0):
        """Load levels."""

    @staticmethod
    def twice(x: int):
        """Twice x."""
        return 2 * x

    @classmethod
    def kind(cls, verbose: bool = False):
        """The class's name."""

    def ping(self):
        """Whether it answers."""

    def close(self):
        """The controller's."""


def parser():
    return client.argparser(Shapes, "shapes", "Shapes", 1234)


def bound(words):
    """What the driver method receives for ``words``, as Python binds the
    client's call."""
    args = parser().parse_args(words)
    positional, keywords = client.call_arguments(args)
    method = getattr(Shapes, args.command)
    if isinstance(inspect.getattr_static(Shapes, args.command),
                  (staticmethod, classmethod)):
        return inspect.signature(method).bind(
            *positional, **keywords).arguments
    return inspect.signature(method).bind(
        None, *positional, **keywords).arguments


@pytest.mark.parametrize("words, expected", [
    (["do", "VA"], {"cmd": "VA"}),
    (["do", "VA", "1200"], {"cmd": "VA", "xx": 1200}),
    (["do", "VA", "1", "2", "3"], {"cmd": "VA", "xx": 1, "nn": (2, 3)}),
    (["finish"], {}),
    (["finish", "1"], {"code": 1}),
    (["tune", "2.5", "--force", "yes"], {"level": 2.5, "force": True}),
    (["tune", "2.5", "--force", "no", "--unit", "V"],
     {"level": 2.5, "force": False, "unit": "V"}),
    (["levels", "1", "2.5"], {"values": [1.0, 2.5]}),
    # A list takes every word after it: what follows is given by name.
    (["levels", "1", "2.5", "--scale", "3"],
     {"values": [1.0, 2.5], "scale": 3.0}),
    (["twice", "3"], {"x": 3}),
    (["kind"], {}),
    (["kind", "true"], {"verbose": True}),
])
def test_arguments_bind_as_python_binds_them(words, expected):
    arguments = bound(words)
    arguments.pop("self", None)
    assert arguments == expected
    for name, value in expected.items():
        assert type(arguments[name]) is type(value)


@pytest.mark.parametrize("words", [["tune", "2.5"], ["do"],
                                   ["finish", "1", "2"], ["twice"],
                                   ["close"]])
def test_what_python_would_refuse_is_a_usage_error(words, capsys):
    with pytest.raises(SystemExit) as exit:
        parser().parse_args(words)
    assert exit.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_static_and_class_methods_are_commands_and_close_is_not():
    text = parser().format_help()
    for name in ("do", "finish", "tune", "levels", "twice", "kind", "ping"):
        assert f"    {name} " in text
    assert "    close " not in text


def test_help_shows_whole_first_sentences():
    text = " ".join(parser().format_help().split())
    assert "Finish, with a code." in text
    assert "no summary" not in text
    assert ("Move the output to the given level, as slowly as the device "
            "allows.") in text
    assert "Then more" not in text


def test_first_sentence():
    assert client.first_sentence("One. Two.") == "One."
    assert client.first_sentence("No stop at all") == "No stop at all"
    assert client.first_sentence("Version 1.2 works.\n\nMore.") == \
        "Version 1.2 works."
    assert client.first_sentence("") == ""


@pytest.mark.parametrize("docstring, text", [
    ("Set :attr:`~.voltage` to ``x``.", "Set voltage to x."),
    ("Range.\n\n.. note::\n   Global.", "Range.\n\nNote:\n   Global."),
    ("Old.\n\n    .. deprecated:: 0.13\n        Use y.",
     "Old.\n\n    Deprecated (0.13):\n        Use y."),
    (".. code-block:: python", "Code block (python):")],
    ids=["role", "directive", "with-argument", "hyphenated"])
def test_help_texts_are_plain_text(docstring, text):
    """What a terminal shows, and the docs' argparse directive reads
    without Sphinx (it cannot run Sphinx's own directives)."""
    assert client.plain_text(docstring) == text


class Documented:
    """A driver whose docstrings are reST, as pymeasure's are."""

    def get_level(self):
        """Get the level, see :attr:`~.limit`.

        .. deprecated:: 0.13
           Use ``*LVL?``, 100 % of it.

        Command: ``:LEVel %g``.
        """


def command_help(driver, name):
    parser = client.argparser(driver, "shapes", "Shapes", 1234)
    [commands] = [action for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction)]
    return commands.choices[name]


def test_a_commands_help_is_its_docstring_as_plain_text():
    text = command_help(Documented, "get_level").format_help()
    assert textwrap.dedent("""\
        Get the level, see limit.

        Deprecated (0.13):
           Use *LVL?, 100 % of it.

        Command: :LEVel %g.
        """) in text


def test_a_commands_description_is_reST_that_docutils_reads():
    """What the docs' argparse directive parses, without Sphinx: no role
    or directive of Sphinx's, no warning."""
    docutils = pytest.importorskip("docutils.core")
    from docutils import nodes

    description = command_help(Documented, "get_level").description
    warnings = io.StringIO()
    tree = docutils.publish_doctree(description, settings_overrides={
        "warning_stream": warnings, "report_level": 1})
    assert warnings.getvalue() == ""
    # The role's target and the command stay literal.
    assert [literal.astext() for literal in tree.findall(nodes.literal)] \
        == ["limit", "*LVL?", ":LEVel %g"]
