"""The hooks: every rejection rule, the ports, the pruning, the checks.

Each hook is rendered once, as cookiecutter renders it, imported as a
module, and its functions tested in-process. End-to-end cookiecutter runs
are kept to what needs a real generation: the README's default run with
both checks, a failed check that leaves nothing, a rejection on the
command line, yes/no and folder names as cookiecutter's command line reads
them, an overwrite, a replay, an untracked folder in the clone, and the
cookiecutter releases too old for the template.
"""

import ast
import json
import keyword
import os
import runpy
import shutil
import subprocess
import sys
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (HAS_SIPYCO, NEEDS_SIPYCO, TEMPLATE, answers_for,
                      copy_template_files, hook_module, render_hook,
                      run_cookiecutter, run_python)
import ndsp_extensions

# (answer, bad value, what the hook must say about it)
REJECTIONS = [
    ("device_name", "Hello", "lowercase Python identifier"),
    ("device_name", "my-psu", "lowercase Python identifier"),
    ("device_name", "2psu", "lowercase Python identifier"),
    ("device_name", "", "lowercase Python identifier"),
    ("device_name", "class", "Python keyword"),
    ("device_name", "match", "Python keyword"),
    ("device_name", "none", "makes the class name None, a Python keyword"),
    ("device_name", "true_", "makes the class name True, a Python keyword"),
    ("device_name", "socket", "would shadow the 'socket' module"),
    ("device_name", "sipyco", "would shadow the 'sipyco' module"),
    ("device_name", "artiq", "would shadow the 'artiq' module"),
    ("device_name", "numpy", "would shadow the 'numpy' module"),
    ("device_name", "tests", "would shadow the 'tests' module"),
    ("device_name", "conftest", "would shadow the 'conftest' module"),
    ("device_name", "serial", "would shadow the 'serial' module"),
    ("device_name", "pyvisa", "would shadow the 'pyvisa' module"),
    ("device_name", "telnetlib", "would shadow the 'telnetlib' module"),
    ("device_name", "a" * 25, "at most 24"),
    ("device_title", "", "is empty"),
    ("device_title", "   ", "is empty"),
    ("device_title", "two\nlines", "line break"),
    ("device_title", "x" * 61, "at most 60 characters"),
    ("device_title", "\\" * 31, "a backslash counting as two"),
    ("default_port", "80", "from 1024 to 65535"),
    ("default_port", "0", "from 1024 to 65535"),
    ("default_port", "3300.5", "whole number"),
    ("default_port", "", "whole number"),
    ("device_title", "bad\udced\udca0title", "bytes that are not UTF-8"),
    ("device_title", "\x1b[31mred", "control character"),
    ("device_title", "x" * 10000, "at most 60 characters"),
    ("author_name", "\u2028separated", "line break"),
    ("author_name", "n" * 101, "at most 100 characters"),
    ("default_port", "65536", "from 1024 to 65535"),
    ("default_port", "port", "whole number"),
    ("default_port", "-5", "whole number"),
    ("default_port", "03300", "leading zero, a SyntaxError in Python: "
     "write 3300"),
    ("default_port", "08080", "leading zero"),
    ("driver_api", "threads", "must be one of: sync, asyncio"),
    ("driver_source", "qcodes", "must be one of: example, pymeasure"),
    ("transport", "usb", "must be one of: console, serial, tcp, visa"),
    ("license", "WTFPL", "must be one of:"),
    ("author_name", "", "is empty"),
    ("author_name", "tab\there", "control character"),
    ("author_email", "nobody", "must look like name@example.org"),
    ("author_email", "a@b", "must look like name@example.org"),
    ("include_client", "maybe", "must be yes or no"),
    ("include_mediator", "maybe", "must be yes or no"),
    ("run_checks", "maybe", "must be yes or no"),
]
ACCEPTED = [
    ("device_name", "a" * 24),
    ("device_name", "thorlabs_mdt693b"),
    ("device_title", "x" * 60),
    ("device_title", "Ångström \"λ\" meter 🌈"),
    ("default_port", "1024"),
    ("default_port", "3274"),
    ("default_port", "65535"),
    ("author_email", "first.last+ndsp@physics.example.ac.uk"),
]
DEFAULTS = answers_for()


def with_answer(key, value):
    """The default answers but one, and what cookiecutter derives from the
    name, as it would."""
    answers = dict(DEFAULTS, **{key: value})
    answers["__driver_class"] = ndsp_extensions.class_name(
        answers["device_name"])
    return answers


@pytest.fixture(scope="module")
def pre_gen(tmp_path_factory):
    """The pre-generation hook, rendered for the default answers."""
    return hook_module("pre_gen_project", DEFAULTS,
                       tmp_path_factory.mktemp("pre_gen"))


# --- the pre-generation hook, in-process ---------------------------------

@pytest.mark.parametrize(
    "key, value, message", REJECTIONS,
    ids=[f"{key}={value!r}"[:40] for key, value, _ in REJECTIONS])
def test_pre_gen_hook_rejects(pre_gen, tmp_path, capsys, key, value,
                              message):
    assert pre_gen.main(with_answer(key, value), tmp_path) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == ("ndsp-template: 1 answer(s) cannot be used; "
                        "nothing was generated:")
    [line] = lines[1:]
    assert line.startswith(f"  {key} = {value!r}: ")
    assert message in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key, value", ACCEPTED,
                         ids=[f"{k}={v!r}"[:40] for k, v in ACCEPTED])
def test_pre_gen_hook_accepts(pre_gen, tmp_path, capsys, key, value):
    assert pre_gen.main(with_answer(key, value), tmp_path) == 0
    assert capsys.readouterr() == ("", "")


CLASS_PATH_REJECTIONS = [
    ("Keithley2400", "must be a module and a class, dotted"),
    ("pymeasure.instruments.keithley.", "must be a module and a class"),
    ("pymeasure.instruments.class.Thing", "must be a module and a class"),
    ("pymeasure.instruments.keithley.Keithley2400; rm -rf",
     "must be a module and a class"),
    ("pymeasure." + "x" * 60 + ".Y", "at most 68 characters"),
    ("pymeasure.instruments.keithley.Keithley240",
     "pymeasure.instruments.keithley has no class Keithley240"),
    ("pymeasure.instruments.nowhere.Thing",
     "cannot be imported: ModuleNotFoundError"),
]


@pytest.mark.parametrize("path, message", CLASS_PATH_REJECTIONS,
                         ids=[path[:40] for path, _ in CLASS_PATH_REJECTIONS])
def test_a_class_path_that_names_no_class_is_refused(
        pre_gen, tmp_path, capsys, path, message):
    if "has no class" in message or "cannot be imported" in message:
        pytest.importorskip("pymeasure", reason="pymeasure is not "
                            "installed: the hook looks the class up in it")
    answers = dict(DEFAULTS, driver_source="pymeasure",
                   pymeasure_class=path)
    assert pre_gen.main(answers, tmp_path) == 1
    [_, line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"  pymeasure_class = {path!r}: ")
    assert message in line


def test_the_class_path_is_read_only_for_pymeasure(pre_gen, tmp_path):
    answers = dict(DEFAULTS, pymeasure_class="not a path")
    assert pre_gen.main(answers, tmp_path) == 0


@pytest.mark.parametrize("port", sorted(ndsp_extensions.ARTIQ_PORTS))
def test_artiq_s_own_ports_are_refused(pre_gen, tmp_path, capsys, port):
    """Each port of an ARTIQ service, named in the refusal."""
    answers = with_answer("default_port", str(port))
    assert pre_gen.main(answers, tmp_path) == 1
    err = capsys.readouterr().err
    service = ndsp_extensions.ARTIQ_PORTS[port]
    assert (f"  default_port = '{port}': is ARTIQ's own port for the "
            f"{service}; ") in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", sorted(ndsp_extensions.NDSP_PORTS))
def test_a_port_of_another_ndsp_is_accepted_with_a_warning(
        pre_gen, tmp_path, capsys, port):
    """Each port the manual lists for an out-of-tree NDSP: one line
    naming that NDSP, and the generation goes on."""
    answers = with_answer("default_port", str(port))
    assert pre_gen.main(answers, tmp_path) == 0
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    ndsp = ndsp_extensions.NDSP_PORTS[port]
    assert line.startswith(
        f"ndsp-template: warning: default_port = {port} is the port the "
        f"ARTIQ manual lists for the {ndsp} NDSP")


def test_the_port_tables_cross_into_the_hook_as_they_are(pre_gen):
    assert pre_gen.ARTIQ_PORTS == ndsp_extensions.ARTIQ_PORTS
    assert pre_gen.NDSP_PORTS == ndsp_extensions.NDSP_PORTS


def test_pre_gen_hook_reports_every_problem_at_once(pre_gen, tmp_path,
                                                    capsys):
    bad = {"device_name": "Bad-Name", "default_port": "3249",
           "author_email": "nobody", "device_title": ""}
    answers = dict(DEFAULTS, **bad)
    assert pre_gen.main(answers, tmp_path) == 1
    err = capsys.readouterr().err
    assert "4 answer(s) cannot be used" in err
    for key in bad:
        assert f"  {key} = " in err


def test_answers_cross_into_the_hook_as_data(tmp_path):
    """Rendered, the hook holds the answers as JSON data: quotes,
    backslashes and template syntax arrive as they were typed."""
    title = "x''' \\ \"{{ cookiecutter.device_name }}\" {% raw %}"
    answers = dict(DEFAULTS, device_title=title)
    hook = hook_module("pre_gen_project", answers, tmp_path)
    assert hook.ANSWERS == answers


def test_a_folder_that_held_files_is_marked_for_the_post_hook(
        pre_gen, tmp_path):
    empty, used = tmp_path / "empty", tmp_path / "used"
    empty.mkdir()
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    assert pre_gen.main(DEFAULTS, empty) == 0
    assert pre_gen.main(DEFAULTS, used) == 0
    assert list(empty.iterdir()) == []
    assert (used / pre_gen.OVERWRITE_MARKER).exists()


def test_standard_library_names_are_refused_without_stdlib_module_names(
        pre_gen, monkeypatch):
    """Python 3.9 has no sys.stdlib_module_names: the hook lists the
    standard library's folders instead."""
    monkeypatch.delattr(sys, "stdlib_module_names")
    names = pre_gen.stdlib_module_names()
    assert {"socket", "asyncio", "json", "telnetlib"} <= names
    assert pre_gen.device_name_problems("socket") == [
        "would shadow the 'socket' module; add a vendor prefix "
        "(e.g. 'acme_socket')"]


@pytest.mark.parametrize("name", ["telnetlib", "annotationlib",
                                  "compression"])
def test_modules_of_every_supported_python_are_refused(pre_gen, name):
    """Whatever Python runs cookiecutter: 3.13 removed telnetlib, which
    3.11 and 3.12 still have; 3.14 added annotationlib and compression."""
    assert pre_gen.device_name_problems(name) == [
        f"would shadow the '{name}' module; add a vendor prefix "
        f"(e.g. 'acme_{name}')"]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80))
def test_free_text_is_refused_or_renders_exactly(pre_gen, text):
    """Any title or author name: refused with a reason, or written into
    TOML and Python that read back as the same text."""
    if pre_gen.text_problems(text, pre_gen.MAX_TITLE_LENGTH):
        return
    assert text.strip() and "\n" not in text
    assert ast.literal_eval(ndsp_extensions.py_string(text)) == text
    toml = f"title = {ndsp_extensions.toml_string(text)}\n"
    assert tomllib.loads(toml)["title"] == text


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=40),
                      st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)))
def test_a_name_is_refused_or_names_everything(pre_gen, name):
    """Any name: refused with a reason, or a package, a class, a folder."""
    answers = dict(DEFAULTS, device_name=name,
                   __driver_class=ndsp_extensions.class_name(name))
    if [key for key, _ in pre_gen.problems(answers)
            if key == "device_name"]:
        return
    assert name.isidentifier() and name == name.lower()
    assert ndsp_extensions.project_folder(name) == name
    assert ndsp_extensions.class_name(name).isidentifier()
    assert not keyword.iskeyword(ndsp_extensions.class_name(name))


@pytest.mark.parametrize("hook_name", ["pre_gen_project", "post_gen_project"])
def test_hooks_import_only_the_standard_library(tmp_path, hook_name):
    """sipyco, optional, is imported inside the smoke test alone."""
    hook = render_hook(hook_name, DEFAULTS, tmp_path / "hook.py")
    for node in ast.parse(hook.read_text()).body:
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] in sys.stdlib_module_names, module


# --- names that cannot make a folder: stopped while cookiecutter renders
# the answers, before it makes the folder (one end-to-end run below) ----

@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/tmp", "a\\b"])
def test_a_name_that_is_no_folder_is_stopped(name):
    with pytest.raises(SystemExit) as stopped:
        ndsp_extensions.project_folder(name)
    assert str(stopped.value) == (
        f"ndsp-template: device_name = {name!r}: must be a lowercase Python "
        "identifier such as 'acme_psu' (it names the project's folder)")


@pytest.mark.parametrize("name", ["a" * 247, "é" * 124])
def test_a_name_too_long_for_a_file_is_stopped(name):
    """Longer than a file name may be: cookiecutter would crash making
    the folder."""
    with pytest.raises(SystemExit) as stopped:
        ndsp_extensions.project_folder(name)
    [line] = str(stopped.value).splitlines()
    assert line.startswith(f"ndsp-template: device_name = {name[:40]!r}...")
    assert "too long for a file name: at most 24" in line


@pytest.mark.parametrize("name", ["a" * 246, "é" * 123, "hello"])
def test_a_name_a_file_can_hold_makes_its_folder(name):
    assert ndsp_extensions.project_folder(name) == name


@pytest.mark.parametrize("version, accepted", [
    ("2.6.0", False), ("1.7.3", False), ("2.7.0", True), ("2.7.1", True),
    ("3.0.0rc1", True),
])
def test_cookiecutter_version_check(version, accepted):
    if accepted:
        ndsp_extensions.check_cookiecutter(version)
        return
    with pytest.raises(ImportError, match=(
            rf"needs cookiecutter 2\.7 or newer, this is {version}: ")):
        ndsp_extensions.check_cookiecutter(version)


# --- the post-generation hook, in-process --------------------------------

def post_gen_for(folder, **answers):
    """The post-generation hook, rendered for these answers with the
    checks on."""
    return hook_module("post_gen_project",
                       answers_for(run_checks=True, **answers), folder)


@pytest.fixture(scope="module")
def post_gen(tmp_path_factory):
    return post_gen_for(tmp_path_factory.mktemp("post_gen"))


@pytest.fixture
def project(render, tmp_path):
    """A copy of the default project, as cookiecutter left it for the
    post-generation hook to check (it has pruned it already: cruft runs
    the hook again at every update)."""
    return shutil.copytree(render(), tmp_path / "hello")


def project_files(project):
    return sorted(path.relative_to(project) for path in project.rglob("*")
                  if "__pycache__" not in path.parts)


def test_both_checks_pass_and_change_nothing(post_gen, project, capsys):
    """Run again on a generated project (as cruft does), the hook removes
    nothing more and both checks pass, each said in one line."""
    before = project_files(project)
    assert post_gen.main(project) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "ndsp-template: flake8: no problems."
    if HAS_SIPYCO:
        assert lines[1].startswith("ndsp-template: smoke test: aqctl_hello "
                                   "--simulation answered ping() over RPC")
    assert lines[-1] == ("ndsp-template: hello/README.md says how to "
                         "install, run and test it.")
    assert project_files(project) == before


def test_run_checks_false_skips_the_checks(tmp_path, project, capsys):
    hook = hook_module("post_gen_project", answers_for(run_checks=False),
                       tmp_path)
    assert hook.main(project) == 0
    assert capsys.readouterr().out == \
        "ndsp-template: checks skipped (run_checks is false).\n"


def test_missing_tools_are_said_in_one_line_and_skipped(tmp_path, project):
    """Run as cookiecutter runs it, on a Python without site-packages
    (-S), as under a bare pipx cookiecutter."""
    hook = render_hook("post_gen_project", answers_for(run_checks=True),
                       tmp_path / "post.py")
    result = run_python("-S", str(hook), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ndsp-template: flake8 is not installed for this Python; "
        "style check skipped.",
        "ndsp-template: sipyco is not installed for this Python; "
        "controller smoke test skipped.",
        "ndsp-template: hello/README.md says how to install, run and test it.",
    ]


def append(path, text):
    path.write_text(path.read_text() + text)


# Ways to break the default project on purpose, each with what the failed
# check must say. They add to the user's files rather than edit them, so
# that they hold whatever the example driver looks like.
BREAKS = {
    "flake8": (lambda project: (project / "hello" / "extra.py").write_text(
        "import json\n"),
        ["flake8 found problems", "F401 'json' imported but unused"]),
    "ping": (lambda project: append(
        project / "hello" / "driver.py", "\n\nHello.ping = lambda self: "
        "False\n"),
        ["the controller exited before it served",
         "it does not answer: ping() returned False"]),
    "docstring": (lambda project: append(
        project / "hello" / "driver.py",
        "\n\ndef undocumented(self):\n    return 1\n\n\n"
        "Hello.undocumented = undocumented\n"),
        ["controller smoke test: give these methods a docstring, which "
         "sipyco_rpctool shows: undocumented()"]),
    "startup": (lambda project: append(
        project / "hello" / "__init__.py",
        "\nraise SystemExit('cannot start')\n"),
        ["the controller exited before it served", "cannot start"]),
}


@pytest.mark.parametrize("breaks", [
    pytest.param(["flake8"], id="flake8"),
    pytest.param(["ping"], id="smoke-ping", marks=NEEDS_SIPYCO),
    pytest.param(["docstring"], id="smoke-docstring", marks=NEEDS_SIPYCO),
    pytest.param(["startup"], id="smoke-startup", marks=NEEDS_SIPYCO),
    pytest.param(["flake8", "docstring"], id="both", marks=NEEDS_SIPYCO),
])
def test_a_failed_check_fails_the_hook_and_says_why(post_gen, project,
                                                    capsys, breaks):
    """Every failed check is reported: the two run side by side."""
    for name in breaks:
        BREAKS[name][0](project)
    assert post_gen.main(project) == 1
    out, err = capsys.readouterr()
    assert err.startswith("ndsp-template: the generated NDSP failed a "
                          "check, so it was removed:\n")
    for name in breaks:
        for message in BREAKS[name][1]:
            assert message in err
    assert "Traceback" not in err
    assert not list(project.glob(".ndsp-template-*"))


@NEEDS_SIPYCO
def test_the_smoke_test_runs_code_through_remote_execution(render, tmp_path):
    """The aux target runs code next to the driver."""
    hook = post_gen_for(tmp_path, remote_exec=True)
    project = shutil.copytree(render(remote_exec=True), tmp_path / "hello")
    assert "ran code through its remote execution target" in \
        hook.smoke_test(project)


def test_a_failure_after_an_overwrite_says_the_files_stay(post_gen):
    assert post_gen.failure_outcome(False) == "it was removed"
    assert "its files were overwritten and are left" in \
        post_gen.failure_outcome(True)


# --- end to end: real generations ----------------------------------------

def test_default_generation_runs_both_checks(tmp_path, keep_out_of_home):
    """The README's generate command, as a newcomer runs it: both checks,
    nothing written in the home folder, the answers replayable."""
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o",
         str(tmp_path / "out"), str(TEMPLATE)],
        env=dict(os.environ, HOME=str(home)), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ndsp-template: flake8: no problems." in result.stdout
    if HAS_SIPYCO:
        assert "smoke test: aqctl_hello --simulation answered" in \
            result.stdout
    else:
        assert "sipyco is not installed for this Python; controller smoke " \
            "test skipped." in result.stdout
    assert (tmp_path / "out" / "hello" / "hello" / "aqctl_hello.py").exists()
    assert list(home.iterdir()) == []
    assert list((keep_out_of_home / "replay").glob("*.json"))


def test_a_failed_check_leaves_nothing(tmp_path):
    template = copy_template_files(tmp_path / "template")
    append(template / "{{cookiecutter.device_name}}" /
           "{{cookiecutter.device_name}}" / "__init__.py", "import json\n")
    output = tmp_path / "out"
    output.mkdir()
    result = run_cookiecutter(output, template=template)
    assert result.returncode != 0
    assert "failed a check, so it was removed" in result.stderr
    assert "F401 'json' imported but unused" in result.stderr
    assert list(output.iterdir()) == []


def test_command_line_rejection_explains_and_leaves_nothing(tmp_path):
    result = run_cookiecutter(tmp_path, "device_name=socket",
                              "author_email=nobody")
    assert result.returncode != 0
    assert "2 answer(s) cannot be used" in result.stderr
    assert "add a vendor prefix" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_port_of_another_ndsp_generates_with_one_warning(tmp_path):
    result = run_cookiecutter(tmp_path, "default_port=3257", "run_checks=no")
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines()
                 if "ndsp-template" in line]
    assert "Newfocus 8742" in warning
    device_db = runpy.run_path(str(tmp_path / "hello" / "device_db.py"))
    assert device_db["device_db"]["hello"]["port"] == 3257


def test_booleans_on_the_command_line(tmp_path):
    result = run_cookiecutter(tmp_path, "include_client=yes",
                              "include_mediator=no", "run_checks=no")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello" / "hello" / "aqcli_hello.py").exists()
    assert not (tmp_path / "hello" / "hello" / "mediator.py").exists()


def test_a_name_that_is_no_folder_stops_in_one_line(tmp_path):
    """cookiecutter makes the folder before the hook runs: stopped while
    it renders the answers."""
    result = run_cookiecutter(tmp_path, "device_name=a/b")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "ndsp-template: device_name = 'a/b': must be a lowercase Python "
        "identifier such as 'acme_psu' (it names the project's folder)\n")
    assert list(tmp_path.iterdir()) == []


def test_an_untracked_folder_in_the_clone_is_never_read(tmp_path):
    """A clone holds what the README's commands made (.venv, hello/) and
    whatever else: generation reads the template's own files only (a
    named pipe there would block or fail any copy of the folder)."""
    template = copy_template_files(tmp_path / "clone")
    (template / ".venv").mkdir()
    os.mkfifo(template / ".venv" / "pipe")
    output = tmp_path / "out"
    result = run_cookiecutter(output, "run_checks=no", template=template)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (output / "hello" / "hello" / "aqctl_hello.py").exists()


def test_overwriting_says_the_files_stay(tmp_path):
    """With -f over an existing project, cookiecutter keeps the folder
    when a check fails: the message says so, and the files are there."""
    output = tmp_path / "out"
    first = run_cookiecutter(output, "run_checks=no")
    assert first.returncode == 0, first.stderr
    (output / "hello" / "notes.txt").write_text("mine")
    template = copy_template_files(tmp_path / "template")
    append(template / "{{cookiecutter.device_name}}" /
           "{{cookiecutter.device_name}}" / "__init__.py", "import json\n")
    result = run_python("-m", "cookiecutter", "--no-input", "-f", "-o",
                        str(output), str(template))
    assert result.returncode != 0
    assert ("failed a check, so the folder existed before (cookiecutter -f):"
            " its files were overwritten and are left as they are now"
            in result.stderr)
    project = output / "hello"
    assert (project / "notes.txt").read_text() == "mine"
    assert "import json" in (project / "hello" / "__init__.py").read_text()
    assert not list(project.glob(".ndsp-template-*"))


def test_a_replayed_answer_gets_the_same_checks(tmp_path, keep_out_of_home):
    """A replay file (or cruft's .cruft.json) skips cookiecutter's own
    checks of choices and yes/no: the hook still refuses what it cannot
    use."""
    first = run_cookiecutter(tmp_path / "first", "run_checks=no")
    assert first.returncode == 0, first.stderr
    replay = json.loads((keep_out_of_home / "replay" /
                         f"{TEMPLATE.name}.json").read_text())
    replay["cookiecutter"].update(license="WTFPL", include_client="maybe")
    replay_file = tmp_path / "replay.json"
    replay_file.write_text(json.dumps(replay))
    output = tmp_path / "out"
    result = run_python("-m", "cookiecutter", "--replay-file",
                        str(replay_file), "-o", str(output), str(TEMPLATE))
    assert result.returncode != 0
    assert "2 answer(s) cannot be used" in result.stderr
    assert "license = 'WTFPL': must be one of:" in result.stderr
    assert "include_client = 'maybe': must be yes or no" in result.stderr
    assert not output.exists() or list(output.iterdir()) == []


TOO_OLD = ("ndsp-template needs cookiecutter 2.7 or newer, this is {}: run "
           "python3 -m pip install 'cookiecutter>=2.7' (in a virtual "
           "environment), or pipx run / uvx cookiecutter")


@pytest.mark.parametrize("version", [
    "2.6.0",  # runs pre_prompt hooks, which this template no longer has
    "2.3.1",  # older than pre_prompt hooks
])
def test_an_older_cookiecutter_stops_in_one_line(tmp_path, version):
    """A real older release (from the package registry), first on the
    path; its dependencies are this run's. Asked to prompt, it stops
    before the first question: the template's extension, which refuses
    it, loads before any."""
    release = tmp_path / f"cookiecutter-{version}"
    installed = run_python("-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(release),
                           f"cookiecutter=={version}", timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"cookiecutter {version} could not be installed from "
                    f"the package registry: {installed.stderr[-200:]}")
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "-o", str(output),
         str(TEMPLATE), "include_client=yes"],
        env=dict(os.environ, PYTHONPATH=str(release)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert result.returncode == 1
    assert {"stdout": result.stdout.strip(),
            "stderr": result.stderr.strip()} == {
        "stdout": "Unable to load extension: " + TOO_OLD.format(version),
        "stderr": ""}
    assert not output.exists()
