"""What the expensive checks share: a generated project installed in a
virtual environment of its own, its suite run there, and the one lock
that its artiq_ctlmgr test takes."""

import contextlib
import fcntl
import importlib.metadata
import importlib.util
import os
import pathlib
import re
import shlex
import shutil
import site
import socket
import subprocess
import tarfile
import time
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import HAS_SIPYCO, run_python
import ndsp_extensions

GENERATED_WORKFLOW = ".github/workflows/ci.yml"


def importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


HAS_ARTIQ = (importable("artiq_comtools")
             and importable("artiq.frontend.artiq_master"))
# What a skip's reason names: the library or the command that is missing.
MISSING_REASONS = ["sipyco", "artiq", "pyserial", "pyvisa", "pymeasure",
                   "openssl"]


def available(name):
    """A module that imports, or (openssl) a command on PATH."""
    if name == "openssl":
        return shutil.which(name) is not None
    return importable(name)


def needed(answers):
    """What a project's own suite needs to run with nothing skipped."""
    source = ndsp_extensions.DRIVER_SOURCES[
        answers.get("driver_source", "example")]
    return ["sipyco", *source["needs"],
            *(["artiq.master.worker_db"] if answers.get("include_mediator")
              else []),
            "openssl"]


class Installed:
    """A generated project, built into an sdist and a wheel as it would be
    published, the wheel installed in a virtual environment of its own,
    and the sdist unpacked: its tests run from there, as from a download.

    The environment sees the packages this test run sees (sipyco if any,
    pytest, ARTIQ however installed), as one made with
    --system-site-packages sees the system's.
    """

    def __init__(self, answers, project, folder, sees=None, resolve=True):
        """``sees``: the site folders the environment sees besides its
        own; by default, this test run's (site_folders()). ``resolve``:
        pip checks the dependencies, as for a user (with sipyco at hand; a
        second or so); else installs the wheel alone."""
        self.answers = answers
        self.sdist, self.wheel = build(project, folder / "dist")
        unpack(self.sdist, folder / "unpacked")
        self.project = folder / "unpacked" / "hello-0.1.0"
        self.venv = folder / "venv"
        self.python, site_packages = virtual_environment(
            self.venv, site_folders() if sees is None else sees)
        wanted = ([f"{self.wheel}[test]"] if HAS_SIPYCO and resolve
                  else ["--no-deps", str(self.wheel)])
        check(run_python("-m", "pip", "--python", str(self.python),
                         "install", "-q", "--no-index", *wanted,
                         timeout=300))
        self.dist_info = site_packages / "hello-0.1.0.dist-info"

    def environment(self):
        """The environment after `. venv/bin/activate`: this venv's scripts
        on PATH, and no other Python's (artiq_ctlmgr's among them).

        The generated suites use no pytest plugin: those this machine has
        (hypothesis takes a second to load) stay out of their 18 runs.
        """
        environment = dict(os.environ, VIRTUAL_ENV=str(self.venv),
                           PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        environment["PATH"] = os.pathsep.join(
            [str(self.venv / "bin"), os.defpath])
        return environment

    def run(self, *command, cwd=None, timeout=120):
        return subprocess.run(command, cwd=cwd, env=self.environment(),
                              capture_output=True, text=True,
                              timeout=timeout)

    def pytest(self, *arguments):
        """The project's own tests, as its README runs them."""
        return self.run(str(self.python), "-m", "pytest", "-p",
                        "no:cacheprovider", *arguments, cwd=self.project,
                        timeout=600)

    def popen(self, *command):
        return subprocess.Popen(command, env=self.environment(), text=True,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def scripts(self):
        names = ["aqctl_hello"]
        if self.answers["include_client"]:
            names.append("aqcli_hello")
        return names


def unpack(archive, folder):
    """Extract the tar ``archive`` into ``folder``, refusing first, with
    ValueError, any member but a file or folder inside it: what tarfile's
    "data" filter refuses, on Pythons that lack it too (before 3.11.4,
    Debian 12's 3.11.2 among them). An sdist holds nothing else."""
    folder = pathlib.Path(folder).resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            target = (folder / member.name).resolve()
            if not (member.isfile() or member.isdir()) or \
                    not target.is_relative_to(folder):
                raise ValueError(f"{archive}: {member.name!r} is not a file "
                                 "or folder inside the archive's folder")
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(folder, members, **safe)


def site_folders():
    """Where this Python finds installed packages: its site-packages (a
    virtual environment's and, with --system-site-packages, its base's)
    and the user's."""
    folders = site.getsitepackages()
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [folder for folder in folders if os.path.isdir(folder)]


def virtual_environment(folder, sees):
    """A virtual environment without pip (``pip --python`` installs into
    it) that sees, after its own, the packages of the site folders
    ``sees`` as Python sees its own: their .pth files processed, so that a
    package installed editable or listed in a .pth file (ARTIQ's source
    tree, say) is found too. Its python, and its own site-packages."""
    check(run_python("-m", "venv", "--without-pip", str(folder)))
    [site_packages] = folder.glob("lib/python*/site-packages")
    (site_packages / "test-run.pth").write_text("".join(
        f"import site; site.addsitedir({str(path)!r})\n" for path in sees))
    return folder / "bin" / "python", site_packages


def expose(requirements, folder):
    """A site folder holding only the distributions of this Python that
    ``requirements`` name, and the ones these require in turn (extras and
    markers evaluated here), as links to where they are installed: what
    pip would install for ``requirements``, without a download. (A folder
    that several distributions share, a namespace package's, comes
    whole.) PackageNotFoundError names a distribution this Python lacks."""
    folder.mkdir(parents=True)
    done = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        distribution = importlib.metadata.distribution(requirement.name)
        for extra in {"", *requirement.extras}:
            if (canonicalize_name(requirement.name), extra) in done:
                continue
            done.add((canonicalize_name(requirement.name), extra))
            pending += [needed for needed in map(
                Requirement, distribution.requires or [])
                if not needed.marker or needed.marker.evaluate(
                    {"extra": extra})]
        link_top_level(distribution, folder)
    return folder


def link_top_level(distribution, folder):
    """Links in ``folder`` to the distribution's top-level files and
    folders in its site folder (its .pth files and import hooks among
    them, if installed editable); not to its scripts."""
    if distribution.files is None:
        raise ValueError(f"{distribution.metadata['Name']}: installed "
                         "without a RECORD, its files are unknown")
    site_folder = pathlib.Path(distribution.locate_file(""))
    tops = {path.parts[0] for path in distribution.files
            if not path.is_absolute() and path.parts[0] != ".."}
    for top in tops - {"__pycache__"}:
        link = folder / top
        if (site_folder / top).exists() and not link.exists():
            link.symlink_to(site_folder / top)


def build(project, folder):
    """``python -m build``: the sdist, then the wheel built from it. With
    this test run's setuptools (>= 77, requirements-test.txt): no
    download, and no check that it is there (-x: two processes fewer)."""
    check(run_python("-m", "build", "--no-isolation", "-x", "--outdir",
                     str(folder), str(project), timeout=300))
    [sdist], [wheel] = folder.glob("*.tar.gz"), folder.glob("*.whl")
    return sdist, wheel


def check(result):
    assert result.returncode == 0, result.stdout + result.stderr


@contextlib.contextmanager
def artiq_ports(tmp_path_factory):
    """ARTIQ's ports, and the entry's, to one artiq_ctlmgr test at a time:
    across threads and pytest-xdist's workers, which share this folder."""
    lock = tmp_path_factory.getbasetemp().parent / "artiq-ports.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pyproject(project):
    return tomllib.loads((project / "pyproject.toml").read_text())


def ci_requirements(project):
    """What the generated workflow's test job installs with pip, as
    requirements: sipyco and artiq-comtools by name (from git there), the
    project's own with the extras it names (for ``-e ".[test]"``), and
    the tools."""
    workflow = yaml.safe_load((project / GENERATED_WORKFLOW).read_text())
    metadata = pyproject(project)["project"]
    requirements = []
    for step in workflow["jobs"]["test"]["steps"]:
        for line in step.get("run", "").splitlines():
            command, arguments = shlex.split(line)[:4], shlex.split(line)[4:]
            if command != ["python", "-m", "pip", "install"]:
                continue
            for argument in arguments:
                if argument.startswith("git+"):
                    requirements.append(argument.rsplit("/", 1)[1]
                                        .removesuffix(".git"))
                elif argument.startswith("."):
                    extras = Requirement("project" + argument[1:]).extras
                    requirements += metadata["dependencies"]
                    for extra in sorted(extras):
                        requirements += metadata["optional-dependencies"][
                            extra]
                elif argument != "-e":
                    requirements.append(argument)
    return requirements


def install_and_test(answers, project, folder, tmp_path_factory,
                     ctlmgr=True, sees=None, resolve=True):
    """``project`` installed (seeing ``sees``, resolving its dependencies
    or not, as Installed does); its own suite run, then (with ``ctlmgr``)
    its artiq_ctlmgr test alone."""
    installed = Installed(answers, project, folder, sees, resolve)
    installed.suite = installed.pytest(
        "--ignore", "tests/test_contract_ctlmgr.py")
    if ctlmgr:
        with artiq_ports(tmp_path_factory):
            installed.ctlmgr = installed.pytest(
                "tests/test_contract_ctlmgr.py")
    return installed


def assert_passed_or_skipped_for_a_reason(result, *libraries):
    """pytest's run passed; what skipped names a missing library (or
    command), and nothing skipped when ``libraries`` are all there."""
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if all(map(available, libraries)):
        assert "skipped" not in summary, result.stdout
    else:
        skips = [line for line in result.stdout.splitlines()
                 if line.startswith("SKIPPED")]
        assert skips, result.stdout
        assert all(re.search("|".join(MISSING_REASONS), line)
                   for line in skips), skips


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def controller_answers(port):
    from sipyco.pc_rpc import Client

    try:
        client = Client("127.0.0.1", port, "hello", timeout=5)
    except OSError:
        return False
    try:
        return client.ping()
    finally:
        client.close_rpc()


def wait_for(condition, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
