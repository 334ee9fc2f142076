"""The hooks: every rejection rule, the pruning, the post-generation checks."""

import ast
import importlib.util
import json
import keyword
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from cookiecutter.exceptions import FailedHookException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from conftest import (HAS_SIPYCO, NEEDS_SIPYCO, TEMPLATE, answers_for,
                      generate, render_hook, run_cookiecutter, run_python,
                      template_folder)
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
    ("default_port", "3249", "one of ARTIQ's own ports"),
    ("default_port", "1066", "one of ARTIQ's own ports"),
    ("default_port", "1386", "one of ARTIQ's own ports"),
    ("default_port", "3276", "one of ARTIQ's own ports"),
    ("default_port", "port", "whole number"),
    ("default_port", "-5", "whole number"),
    ("default_port", "03300", "leading zero, a SyntaxError in Python: "
     "write 3300"),
    ("default_port", "08080", "leading zero"),
    ("driver_api", "threads", "must be one of: sync, asyncio"),
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


def run_pre_gen_hook(tmp_path, answers):
    hook = render_hook("pre_gen_project", answers, tmp_path / "pre.py")
    return run_python(str(hook), cwd=tmp_path)


@pytest.mark.parametrize(
    "key, value, message", REJECTIONS,
    ids=[f"{key}={value!r}"[:40] for key, value, _ in REJECTIONS])
def test_pre_gen_hook_rejects(tmp_path, key, value, message):
    answers = answers_for()
    answers[key] = value
    # What cookiecutter derives from the name, as it would.
    answers["__driver_class"] = ndsp_extensions.class_name(
        answers["device_name"])
    result = run_pre_gen_hook(tmp_path, answers)
    assert result.returncode == 1
    assert "1 answer(s) cannot be used; nothing was generated" in \
        result.stderr
    assert f"  {key} = {value!r}: " in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key, value", ACCEPTED,
                         ids=[f"{k}={v!r}"[:40] for k, v in ACCEPTED])
def test_pre_gen_hook_accepts(tmp_path, key, value):
    answers = answers_for()
    answers[key] = value
    result = run_pre_gen_hook(tmp_path, answers)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_pre_gen_hook_reports_every_problem_at_once(tmp_path):
    answers = answers_for()
    bad = {"device_name": "Bad-Name", "default_port": "3249",
           "author_email": "nobody", "device_title": ""}
    answers.update(bad)
    result = run_pre_gen_hook(tmp_path, answers)
    assert result.returncode == 1
    assert "4 answer(s) cannot be used" in result.stderr
    for key in bad:
        assert f"  {key} = " in result.stderr


def test_rejected_answers_leave_nothing_behind(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        generate(tmp_path, device_name="class", default_port="80")
    assert "device_name = 'class'" in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_command_line_rejection_explains_and_leaves_nothing(tmp_path):
    result = run_cookiecutter(tmp_path, "device_name=socket",
                              "author_email=nobody")
    assert result.returncode != 0
    assert "2 answer(s) cannot be used" in result.stderr
    assert "add a vendor prefix" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_default_generation_runs_both_checks(tmp_path):
    """The README's generate command, as a newcomer runs it."""
    result = run_cookiecutter(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ndsp-template: flake8: no problems." in result.stdout
    if HAS_SIPYCO:
        assert "smoke test: aqctl_hello --simulation answered" in \
            result.stdout
    else:
        assert "sipyco is not installed for this Python; controller smoke " \
            "test skipped." in result.stdout
    assert (tmp_path / "hello" / "hello" / "aqctl_hello.py").exists()


@pytest.mark.parametrize("answer, said", [
    ("remote_exec=yes", "ran code through its remote execution target"),
])
@NEEDS_SIPYCO
def test_the_smoke_test_covers_the_chosen_options(tmp_path, answer, said):
    """The aux target runs code."""
    result = run_cookiecutter(tmp_path, answer)
    assert result.returncode == 0, result.stdout + result.stderr
    assert said in result.stdout


def without_repository_files(folder, names):
    """What copytree leaves out: this suite, git's and caches."""
    left_out = {"__pycache__", ".pytest_cache", ".git", ".venv"}
    if pathlib.Path(folder) == template_folder():
        left_out.add("tests")
    return left_out & set(names)


def template_copy(tmp_path, path, old, new):
    """A copy of the template with one file broken on purpose."""
    copy = tmp_path / "template"
    shutil.copytree(template_folder(), copy,
                    ignore=without_repository_files)
    broken = copy / path
    source = broken.read_text()
    assert old in source
    broken.write_text(source.replace(old, new, 1))
    return copy


# The default project's transport and driver, and its controller.
FAKE_DEVICE = "templates/fake_devices/console.py"
DRIVER = "templates/drivers/console.py"
CONTROLLER = ("{{cookiecutter.device_name}}/{{cookiecutter.device_name}}/"
              "aqctl_{{cookiecutter.device_name}}.py")
STARTUP = "    common_args.init_logger_from_args(args)\n"
MESSAGE_DOCSTRING = ('        """Print the text ``msg`` on the console as '
                     '"message: <msg>"."""\n')
# (file to break, text, its broken replacement, what the failure must say)
BROKEN_TEMPLATES = [
    pytest.param(FAKE_DEVICE, "from .ndsp", "import json\nfrom .ndsp",
                 ["flake8 found problems", "F401 'json' imported but unused"],
                 id="flake8"),
    pytest.param(DRIVER, "        return not self._closed",
                 "        return False",
                 ["the controller exited before it served",
                  "it does not answer: ping() returned False"],
                 id="smoke-ping", marks=NEEDS_SIPYCO),
    pytest.param(DRIVER, MESSAGE_DOCSTRING, "",
                 ["controller smoke test: give these methods a docstring, "
                  "which sipyco_rpctool shows: message()"],
                 id="smoke-docstring", marks=NEEDS_SIPYCO),
    pytest.param(CONTROLLER, STARTUP,
                 STARTUP + "    raise SystemExit('cannot start')\n",
                 ["the controller exited before it served", "cannot start"],
                 id="smoke-startup", marks=NEEDS_SIPYCO),
]


@pytest.mark.parametrize("path, old, new, messages", BROKEN_TEMPLATES)
def test_failed_check_fails_generation_and_leaves_nothing(
        tmp_path, path, old, new, messages):
    template = template_copy(tmp_path, path, old, new)
    output = tmp_path / "out"
    output.mkdir()
    result = run_cookiecutter(output, template=template)
    assert result.returncode != 0
    assert "failed a check, so it was removed" in result.stderr
    for message in messages:
        assert message in result.stderr
    assert list(output.iterdir()) == []


def post_gen_hook(tmp_path, **answers):
    """A project generated without checks, and its rendered post hook."""
    project = generate(tmp_path / "out", **answers)
    answers["run_checks"] = True
    hook = render_hook("post_gen_project", answers_for(**answers),
                       tmp_path / "post.py")
    return project, hook


def test_missing_tools_are_said_in_one_line_and_skipped(tmp_path):
    project, hook = post_gen_hook(tmp_path)
    # -S: no site-packages, as under a bare pipx cookiecutter.
    result = run_python("-S", str(hook), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ndsp-template: flake8 is not installed for this Python; "
        "style check skipped.",
        "ndsp-template: sipyco is not installed for this Python; "
        "controller smoke test skipped.",
        "ndsp-template: hello/README.md says how to install, run and test it.",
    ]


def test_post_gen_hook_is_idempotent(tmp_path):
    project, hook = post_gen_hook(tmp_path, include_client=False)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    for _ in range(2):
        result = run_python(str(hook), cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr
        after = sorted(p.relative_to(project) for p in project.rglob("*")
                       if "__pycache__" not in p.parts)
        assert after == before
    assert not (project / "hello" / "aqcli_hello.py").exists()


def test_run_checks_false_skips_the_checks(tmp_path, capfd):
    generate(tmp_path, run_checks=False)
    out = capfd.readouterr().out
    assert "checks skipped (run_checks is false)" in out
    assert "flake8" not in out


@pytest.mark.parametrize("hook_name", ["pre_gen_project", "post_gen_project"])
def test_hooks_import_only_the_standard_library(tmp_path, hook_name):
    """sipyco, optional, is imported inside the smoke test alone."""
    hook = render_hook(hook_name, answers_for(), tmp_path / "hook.py")
    for node in ast.parse(hook.read_text()).body:
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] in sys.stdlib_module_names, module


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/tmp"])
def test_a_name_that_is_no_folder_stops_in_one_line(tmp_path, name):
    """cookiecutter makes the folder before the hook runs: stop earlier."""
    result = run_cookiecutter(tmp_path, f"device_name={name}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"ndsp-template: device_name = {name!r}: must be a lowercase Python "
        "identifier such as 'acme_psu' (it names the project's folder)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["a" * 247, "é" * 124])
def test_a_name_too_long_for_a_file_stops_in_one_line(tmp_path, name):
    """Longer than a file name may be: cookiecutter would crash making
    the folder."""
    result = run_cookiecutter(tmp_path, f"device_name={name}")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ndsp-template: device_name = {name[:40]!r}...")
    assert "too long for a file name: at most 24" in line
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def pre_gen_rules(tmp_path_factory):
    """The pre-generation hook as a module: its rules, without running."""
    path = render_hook("pre_gen_project", answers_for(),
                       tmp_path_factory.mktemp("rules") / "rules.py")
    spec = importlib.util.spec_from_file_location("pre_gen_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80))
def test_free_text_is_refused_or_renders_exactly(pre_gen_rules, text):
    """Any title or author name: refused with a reason, or written into
    TOML and Python that read back as the same text."""
    if pre_gen_rules.text_problems(text, pre_gen_rules.MAX_TITLE_LENGTH):
        return
    assert text.strip() and "\n" not in text
    assert ast.literal_eval(ndsp_extensions.py_string(text)) == text
    toml = f"title = {ndsp_extensions.toml_string(text)}\n"
    assert tomllib.loads(toml)["title"] == text


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=40),
                      st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)))
def test_a_name_is_refused_or_names_everything(pre_gen_rules, name):
    """Any name: refused with a reason, or a package, a class, a folder."""
    answers = dict(answers_for(), device_name=name,
                   __driver_class=ndsp_extensions.class_name(name))
    if [key for key, _ in pre_gen_rules.problems(answers)
            if key == "device_name"]:
        return
    assert name.isidentifier() and name == name.lower()
    assert ndsp_extensions.project_folder(name) == name
    assert ndsp_extensions.class_name(name).isidentifier()
    assert not keyword.iskeyword(ndsp_extensions.class_name(name))


def test_standard_library_names_are_refused_without_stdlib_module_names(
        tmp_path):
    """Python 3.9 has no sys.stdlib_module_names: the hook lists the
    standard library's folders instead."""
    answers = answers_for()
    answers["device_name"] = "socket"
    hook = render_hook("pre_gen_project", answers, tmp_path / "pre.py")
    result = run_python(
        "-c", "import runpy, sys; del sys.stdlib_module_names; "
        f"runpy.run_path({str(hook)!r}, run_name='__main__')", cwd=tmp_path)
    assert result.returncode == 1
    assert "would shadow the 'socket' module" in result.stderr


@pytest.mark.parametrize("answer, kept", [("yes", True), ("no", False)])
def test_booleans_on_the_command_line(tmp_path, answer, kept):
    result = run_cookiecutter(tmp_path, f"include_client={answer}",
                              "run_checks=no")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello" / "hello" / "aqcli_hello.py").exists() == kept


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


TOO_OLD = ("ndsp-template needs cookiecutter 2.7 or newer, this is {}: run "
           "python3 -m pip install 'cookiecutter>=2.7' (in a virtual "
           "environment), or pipx run / uvx cookiecutter")


@pytest.mark.parametrize("version, said", [
    # The pre_prompt hook stops it, before any question.
    ("2.6.0", {"stderr": TOO_OLD.format("2.6.0"),
               "stdout": "Pre-Prompt Hook script failed"}),
    # Older than pre_prompt hooks: the template's extension stops it.
    ("2.3.1", {"stderr": "",
               "stdout": "Unable to load extension: " + TOO_OLD.format(
                   "2.3.1")}),
])
def test_an_older_cookiecutter_stops_in_one_line(tmp_path, version, said):
    """A real older release (from the package registry), first on the
    path; its dependencies are this run's."""
    release = tmp_path / f"cookiecutter-{version}"
    installed = run_python("-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(release),
                           f"cookiecutter=={version}", timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"cookiecutter {version} could not be installed from "
                    f"the package registry: {installed.stderr[-200:]}")
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o",
         str(output), str(template_folder()), "include_client=yes"],
        env=dict(os.environ, PYTHONPATH=str(release)),
        capture_output=True, text=True)
    assert result.returncode == 1
    assert {"stdout": result.stdout.strip(),
            "stderr": result.stderr.strip()} == said
    assert not output.exists()


def test_overwriting_says_the_files_stay(tmp_path):
    """With -f over an existing project, cookiecutter keeps the folder
    when a check fails: the message says so, and the files are there."""
    output = tmp_path / "out"
    first = run_cookiecutter(output, "run_checks=no")
    assert first.returncode == 0, first.stderr
    (output / "hello" / "notes.txt").write_text("mine")
    template = template_copy(tmp_path, FAKE_DEVICE, "from .ndsp",
                             "import json\nfrom .ndsp")
    result = run_python("-m", "cookiecutter", "--no-input", "-f", "-o",
                        str(output), str(template))
    assert result.returncode != 0
    assert ("failed a check, so the folder existed before (cookiecutter -f):"
            " its files were overwritten and are left as they are now"
            in result.stderr)
    project = output / "hello"
    assert (project / "notes.txt").read_text() == "mine"
    assert "import json" in (project / "hello" / "fake_device.py").read_text()
    assert not list(project.glob(".ndsp-template-*"))


def test_generation_writes_nothing_in_home(tmp_path, keep_out_of_home):
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o",
         str(tmp_path / "out"), str(template_folder()), "run_checks=no"],
        env=dict(os.environ, HOME=str(home)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == []
    assert list((keep_out_of_home / "replay").glob("*.json"))


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
                        str(replay_file), "-o", str(output),
                        str(template_folder()))
    assert result.returncode != 0
    assert "2 answer(s) cannot be used" in result.stderr
    assert "license = 'WTFPL': must be one of:" in result.stderr
    assert "include_client = 'maybe': must be yes or no" in result.stderr
    assert not output.exists() or list(output.iterdir()) == []
