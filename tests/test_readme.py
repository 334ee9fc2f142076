"""The README's two commands as a newcomer runs them, on a stock Python
that refuses system-wide installs; and this repository's own hygiene."""

import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import TEMPLATE, run_python

# Debian's own Python: pip refuses to install into it (PEP 668).
STOCK_PYTHON = pathlib.Path("/usr/bin/python3")
STOCK_PATH = "/usr/local/bin:/usr/bin:/bin"


def externally_managed(python):
    if not python.exists():
        return False
    stdlib = subprocess.run(
        [python, "-c",
         "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True).stdout.strip()
    return (pathlib.Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def readme_commands():
    """The shell commands of the README's "Two commands" section."""
    readme = (TEMPLATE / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)


def test_the_readme_has_two_commands():
    generate, test = readme_commands()
    assert "cookiecutter --no-input ." in generate
    assert "requirements-test.txt" in test and test.endswith("pytest")
    ci = (TEMPLATE / ".ci" / "run").read_text()
    assert ci.rstrip().endswith(test), "CI must run the README's command"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The template's files, as a fresh clone has them."""
    folder = tmp_path_factory.mktemp("clone") / "ndsp-template"
    shutil.copytree(TEMPLATE, folder, ignore=shutil.ignore_patterns(
        ".git", ".venv", "hello", "__pycache__", ".pytest_cache"))
    return folder


def run_stock(command, cwd, home, **environment):
    """``command`` in bash on a stock Debian: its PATH, a fresh home."""
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
        timeout=600, env={"PATH": STOCK_PATH, "HOME": str(home),
                          "LANG": "C.UTF-8", **environment})


@pytest.fixture(scope="module")
def stock(tmp_path_factory, keep_out_of_home):
    if not externally_managed(STOCK_PYTHON):
        pytest.skip(f"{STOCK_PYTHON} is not an externally managed Python "
                    "(PEP 668) on this machine")
    home = tmp_path_factory.mktemp("newcomer")
    config = keep_out_of_home / "cookiecutter.yaml"
    return lambda command, cwd, **environment: run_stock(
        command, cwd, home, COOKIECUTTER_CONFIG=str(config),
        PIP_CACHE_DIR=str(keep_out_of_home / "pip-cache"), **environment)


def test_system_wide_pip_is_refused(stock, clone):
    result = stock("python3 -m pip install cookiecutter", clone)
    assert result.returncode != 0
    assert "externally-managed-environment" in result.stderr


def test_generate_command_on_a_stock_python(stock, clone):
    generate, _ = readme_commands()
    result = stock(generate, clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (clone / "hello" / "hello" / "aqctl_hello.py").exists()
    assert "hello/README.md says how to install" in result.stdout


def test_test_command_on_a_stock_python(stock, clone):
    """The whole suite is installed and collected; running it here would
    run this test again."""
    _, test = readme_commands()
    result = stock(test, clone, PYTEST_ADDOPTS="--collect-only -q")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = re.search(r"^(\d+) tests collected", result.stdout,
                          re.MULTILINE)
    assert collected and int(collected[1]) > 100, result.stdout


def test_flake8_passes_on_the_template_itself():
    result = run_python("-m", "flake8", cwd=TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not (TEMPLATE / ".git").exists() or not shutil.which(
    "git"), reason="not a git checkout")
@pytest.mark.parametrize("path", ["hello/", ".venv/"])
def test_the_readme_commands_leave_nothing_to_commit(path):
    result = subprocess.run(["git", "check-ignore", "-q", path],
                            cwd=TEMPLATE)
    assert result.returncode == 0, f"{path} is not ignored"
