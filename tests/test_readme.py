"""The README's two commands as a newcomer runs them, on a stock Python
that refuses system-wide installs; what the suite's installed projects
take from the Python that runs it (an sdist unpacked safely, the packages
it sees); and this repository's own hygiene."""

import importlib.metadata
import io
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

import pytest

from conftest import TEMPLATE, answers_for, run_python
import installed

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


# Set in the stock Python's run of the suite: that run must not start
# another.
INSIDE_STOCK_RUN = "NDSP_TEMPLATE_INSIDE_STOCK_RUN"


def run_stock(command, cwd, home, **environment):
    """``command`` in bash on a stock Debian: its PATH, a fresh home."""
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
        timeout=600, env={"PATH": STOCK_PATH, "HOME": str(home),
                          "LANG": "C.UTF-8", **environment})


@pytest.fixture(scope="module")
def stock(tmp_path_factory, keep_out_of_home):
    if os.environ.get(INSIDE_STOCK_RUN):
        pytest.skip("this is the stock Python's run of the README's test "
                    "command already")
    if not externally_managed(STOCK_PYTHON):
        pytest.skip(f"{STOCK_PYTHON} is not an externally managed Python "
                    "(PEP 668) on this machine")
    home = tmp_path_factory.mktemp("newcomer")
    config = keep_out_of_home / "cookiecutter.yaml"
    # PIP_COMPILE: pip installs as it would, but leaves byte-compiling
    # (400 MB of packages, half its time) to Python, module by module as
    # the suite imports them.
    return lambda command, cwd, **environment: run_stock(
        command, cwd, home, COOKIECUTTER_CONFIG=str(config),
        PIP_CACHE_DIR=str(keep_out_of_home / "pip-cache"),
        PIP_COMPILE="false", **environment)


def test_system_wide_pip_is_refused(stock, clone):
    result = stock("python3 -m pip install cookiecutter", clone)
    assert result.returncode != 0
    assert "externally-managed-environment" in result.stderr


@pytest.fixture(scope="module")
def generated(stock, clone):
    """The README's generate command, run in the clone: it leaves the
    default NDSP (hello/) and the environment (.venv) there."""
    generate, _ = readme_commands()
    return stock(generate, clone)


def test_generate_command_on_a_stock_python(generated, clone):
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert (clone / "hello" / "hello" / "aqctl_hello.py").exists()
    assert "hello/README.md says how to install" in generated.stdout


def test_test_command_on_a_stock_python(stock, clone, generated, tmp_path):
    """After the generate command, in the same clone (hello/ and .venv in
    it), the whole suite is installed and collected; of it, what differs
    most between Pythons runs, and what reads the clone's own files: the
    unpacking of an sdist, a project built and installed as the expensive
    checks install theirs, flake8 over the template (the whole suite here
    would run this test again, and take minutes)."""
    assert (clone / "hello").is_dir() and (clone / ".venv").is_dir()
    _, test = readme_commands()
    ran = stock(test, clone, **{INSIDE_STOCK_RUN: "1"}, PYTEST_ADDOPTS=(
        f"-n 0 -p no:cacheprovider --basetemp={tmp_path / 'run'} -k '"
        + " or ".join(STOCK_SUBSET) + "'"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = ran.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed[1]) >= len(STOCK_SUBSET), ran.stdout
    assert not re.search("failed|error", summary), ran.stdout
    # The rest of the suite collected (the README's command, with pytest's
    # own options from pytest.ini), and left out by -k; the modules that
    # need sipyco, which this Python lacks, skipped as they are imported.
    deselected = re.search(r"(\d+) deselected", summary)
    assert deselected and int(deselected[1]) > 100, ran.stdout
    skips = [line for line in ran.stdout.splitlines()
             if line.startswith("SKIPPED")]
    assert all("sipyco is not installed" in line for line in skips), skips


# --- what the installed projects take from the Python running the suite --

def tar_file(path, members):
    """A gzipped tar at ``path``: ``{name: bytes, or a TarInfo}``."""
    with tarfile.open(path, "w:gz") as archive:
        for name, member in members.items():
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(member)
                archive.addfile(info, io.BytesIO(member))
    return path


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_unpacking_extracts_an_sdist(tmp_path):
    sdist = tar_file(tmp_path / "hello-0.1.0.tar.gz", {
        "hello-0.1.0/PKG-INFO": b"Name: hello\n",
        "hello-0.1.0/tests/conftest.py": b"NAME = 'hello'\n"})
    installed.unpack(sdist, tmp_path / "unpacked")
    project = tmp_path / "unpacked" / "hello-0.1.0"
    assert (project / "PKG-INFO").read_bytes() == b"Name: hello\n"
    assert (project / "tests" / "conftest.py").read_bytes() == \
        b"NAME = 'hello'\n"


@pytest.mark.parametrize("member", [
    "../escaped", "hello-0.1.0/../../escaped", "/tmp/absolute",
    link("hello-0.1.0/link", "../../escaped"),
    link("hello-0.1.0/hard", "/etc/passwd", tarfile.LNKTYPE),
    link("hello-0.1.0/device", "", tarfile.CHRTYPE)],
    ids=["parent", "inner-parent", "absolute", "symlink", "hard-link",
         "device"])
def test_unpacking_refuses_a_member_outside_the_folder(tmp_path, member):
    """What tarfile's "data" filter refuses, refused where Python (3.11.2,
    Debian 12's) has no filter: and nothing of the archive written."""
    name = member if isinstance(member, str) else member.name
    archive = tar_file(tmp_path / "evil.tar.gz", {
        "hello-0.1.0/PKG-INFO": b"first\n", name: member if isinstance(
            member, tarfile.TarInfo) else b"escaped\n"})
    folder = tmp_path / "a" / "b" / "unpacked"
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        installed.unpack(archive, folder)
    assert not folder.exists()
    assert not (tmp_path / "a" / "escaped").exists()


def test_an_environment_sees_a_site_folders_pth_files(tmp_path):
    """A site folder's .pth files count, as in Python's own: a source tree
    listed in one (ARTIQ's, here), an editable install's import hook."""
    site_folder, tree = tmp_path / "site-packages", tmp_path / "tree"
    tree.mkdir()
    site_folder.mkdir()
    (tree / "listed_probe.py").write_text("")
    (site_folder / "listed.pth").write_text(f"{tree}\n")
    (site_folder / "__editable___probe_finder.py").write_text(
        "import sys, types\n"
        "sys.modules['editable_probe'] = types.ModuleType('editable_probe')"
        "\n")
    (site_folder / "__editable__.probe-1.0.pth").write_text(
        "import __editable___probe_finder\n")
    python, _ = installed.virtual_environment(tmp_path / "venv",
                                              [site_folder])
    result = subprocess.run(
        [python, "-c", "import listed_probe, editable_probe"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def distribution_names(python):
    result = subprocess.run([python, "-c", (
        "import importlib.metadata as m\n"
        "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_a_project_installs_as_the_expensive_checks_install_it(
        render, tmp_path):
    """Built, its sdist unpacked, its wheel installed in an environment of
    its own that sees every package this Python sees, its own first."""
    project = installed.Installed(answers_for(), render(), tmp_path)
    assert (project.project / "tests" / "conftest.py").is_file()
    where = subprocess.run(
        [project.python, "-c", "import hello; print(hello.__file__)"],
        capture_output=True, text=True, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert pathlib.Path(where.stdout.strip()).is_relative_to(project.venv)
    seen_here = {distribution.metadata["Name"] for distribution in
                 importlib.metadata.distributions()}
    assert distribution_names(project.python) == seen_here | {"hello"}


def test_flake8_passes_on_the_template_itself():
    result = run_python("-m", "flake8", cwd=TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


# What the stock Python runs of the suite (test_test_command_on_a_stock_
# python): the unpacking, the environments of the installed projects, and
# flake8 over a clone that holds what the README's commands made.
STOCK_SUBSET = [test.__name__ for test in (
    test_unpacking_extracts_an_sdist,
    test_unpacking_refuses_a_member_outside_the_folder,
    test_an_environment_sees_a_site_folders_pth_files,
    test_a_project_installs_as_the_expensive_checks_install_it,
    test_flake8_passes_on_the_template_itself)]
# Where the stock Python runs them, they run there alone (deselected here:
# conftest.py): they differ most between Pythons.
RUN_ELSEWHERE = STOCK_SUBSET if externally_managed(STOCK_PYTHON) and not \
    os.environ.get(INSIDE_STOCK_RUN) else []


@pytest.mark.skipif(not (TEMPLATE / ".git").exists() or not shutil.which(
    "git"), reason="not a git checkout")
@pytest.mark.parametrize("path", ["hello/", ".venv/"])
def test_the_readme_commands_leave_nothing_to_commit(path):
    result = subprocess.run(["git", "check-ignore", "-q", path],
                            cwd=TEMPLATE)
    assert result.returncode == 0, f"{path} is not ignored"
