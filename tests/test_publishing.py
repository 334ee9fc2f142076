"""What a generated project publishes with, and how it stays up to date:
its nix flake, both CI workflows, pre-commit and git settings, its Sphinx
docs, and cruft updates from an older commit of this template."""

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import (COVERING, HAS_SIPYCO, PYMEASURE_CLASSES,
                      PYMEASURE_COMBINATIONS, TEMPLATE,
                      combination_id, copy_template_files, pymeasure_answers,
                      render_without_hooks)
from installed import GENERATED_WORKFLOW, ci_requirements, pyproject

NIX_INSTANTIATE = shutil.which("nix-instantiate")
NEEDS_NIX = pytest.mark.skipif(
    not NIX_INSTANTIATE, reason="nix-instantiate is not installed (Debian: "
    "apt install nix-bin): it parses and evaluates the generated flake")
# Evaluates a flake's outputs with its artiq input stood in for: the
# nixpkgs names it is given, and nothing else.
FLAKE_STUB = pathlib.Path(__file__).with_name("flake_stub.nix")
SUPPORTED_PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
# A hash of 40 hex digits after @, and the version as a comment.
PINNED = re.compile(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}  # v[\d.]+")
# The landing of issue 9: a template version from before the flake, the
# docs and the workflows, and before the extension module's new name.
OLDER_COMMIT = "3f2d7c428a3592ffc5797065df101329b62beb23"


def run(*command, cwd=None, timeout=120):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def installed_script(name):
    """A command that requirements-test.txt installed: in this Python's
    environment (a venv need not be on PATH), or in the one it was made
    from (--system-site-packages), else on PATH."""
    base = {"base": sys.base_prefix, "platbase": sys.base_prefix}
    folders = [sysconfig.get_path("scripts"),
               sysconfig.get_path("scripts", vars=base)]
    return shutil.which(name, path=os.pathsep.join(
        [*folders, os.environ.get("PATH", "")]))


# --- the nix flake -------------------------------------------------------

def evaluate_flake(project, names, flake="flake.nix", ndsp=None):
    """``flake`` (a file in ``project``) evaluated through FLAKE_STUB."""
    ndsp_input = ["--argstr", "ndsp", ndsp] if ndsp else []
    result = run(NIX_INSTANTIATE, "--eval", "--strict", "--json",
                 "--arg", "flakePath", str(project / flake),
                 "--arg", "names",
                 "[ " + " ".join(json.dumps(name) for name in names) + " ]",
                 *ndsp_input, str(FLAKE_STUB))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def nixpkgs_names(requirements):
    """The nixpkgs attributes of pyproject's requirements (PEP 503)."""
    return [canonicalize_name(Requirement(text).name) for text in requirements]


@NEEDS_NIX
@pytest.mark.parametrize("answers", [*COVERING, PYMEASURE_COMBINATIONS[1]],
                         ids=combination_id)
def test_the_flake_parses_and_names_the_project(tmp_path, answers):
    """Parsed, then evaluated against an ARTIQ input that has only the
    nixpkgs packages pyproject.toml names (and the build and test tools):
    a misspelt or extra name fails the evaluation. Name, version and
    dependencies are read from pyproject.toml: changed there, they change
    in the flake. Every transport with every driver_api, the mediator both
    ways, and a pymeasure class."""
    project = render_without_hooks(tmp_path, answers)
    parsed = run(NIX_INSTANTIATE, "--parse", str(project / "flake.nix"))
    assert parsed.returncode == 0, parsed.stderr
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace('version = "0.1.0"', 'version = "2.3.4"', 1)
        .replace('dependencies = ["sipyco>=1.10", ',
                 'dependencies = ["sipyco>=1.10", "PyYAML>=6", ', 1))
    metadata = pyproject(project)["project"]
    assert metadata["version"] == "2.3.4"
    tools = ["setuptools", "flake8", "pytest"]
    flake = evaluate_flake(
        project, [*nixpkgs_names(metadata["dependencies"][1:]), *tools])
    assert flake["description"] == metadata["description"]
    assert flake["inputs"] == {
        "artiq": {"url": "git+https://github.com/m-labs/artiq.git"}}
    package = flake["packages"]["default"]
    assert flake["packages"][metadata["name"]] == package
    assert (package["pname"], package["version"]) == \
        (metadata["name"], "2.3.4")
    assert package["pythonImportsCheck"] == [metadata["name"]]
    dependencies = [item["pname"] for item in package["dependencies"]]
    assert dependencies[1] == "pyyaml"
    assert dependencies == nixpkgs_names(metadata["dependencies"]) + (
        ["artiq"] if answers["include_mediator"] else [])
    script = "aqctl_" + metadata["name"]
    assert script in metadata["scripts"]
    assert flake["app"] == {"type": "app", "program":
                            f"/nix/store/{metadata['name']}/bin/{script}"}
    [python, openssl] = flake["shell"]["packages"]
    shell = [item if isinstance(item, str) else item["pname"]
             for item in python["withPackages"]]
    assert shell[0] == "/nix/store/" + metadata["name"]
    assert set(shell[1:]) == {"artiq-comtools", "artiq", "flake8", "pytest"}
    assert openssl == {"pname": "openssl"}


def artiq_flake_config():
    """The nixConfig of ARTIQ's own flake.nix, where ARTIQ is a source
    checkout (pip install -e, or a .pth naming it), else None."""
    spec = importlib.util.find_spec("artiq")
    if spec is None or spec.origin is None:
        return None
    flake = pathlib.Path(spec.origin).parent.parent / "flake.nix"
    if not flake.exists():
        return None
    return dict(re.findall(r'(extra-[\w-]+) = "([^"]*)";', flake.read_text()))


@NEEDS_NIX
def test_the_flake_uses_the_m_labs_binary_cache(render):
    """As ARTIQ's own flake configures it (its sandbox path aside): nix
    develop then fetches ARTIQ built instead of compiling it."""
    flake = evaluate_flake(render(), ["numpy", "setuptools", "flake8",
                                      "pytest"])
    config = flake["nixConfig"]
    assert config["extra-substituters"] == "https://nixbld.m-labs.hk"
    assert re.fullmatch(r"nixbld\.m-labs\.hk-1:[A-Za-z0-9+/]{43}=",
                        config["extra-trusted-public-keys"])
    artiq = artiq_flake_config()
    if artiq is not None:
        artiq.pop("extra-sandbox-paths", None)
        assert config == artiq


@NEEDS_NIX
def test_the_readme_flake_follows_the_labs_artiq(render, tmp_path):
    """The README's lab flake: this NDSP's artiq input follows the lab's
    (one ARTIQ, nixpkgs and sipyco), and its shell holds ARTIQ,
    artiq_ctlmgr's package and this one."""
    project = render(device_name="acme_psu")
    readme = (project / "README.md").read_text()
    [text] = re.findall(r"```nix\n(.*?)```", readme, re.DOTALL)
    (tmp_path / "flake.nix").write_text(text)
    ndsp_inputs = evaluate_flake(project, ["numpy", "setuptools", "flake8",
                                           "pytest"])["inputs"]
    flake = evaluate_flake(tmp_path, [], ndsp="acme_psu")
    assert flake["inputs"]["acme_psu"]["inputs"] == {
        name: {"follows": name} for name in ndsp_inputs}
    assert flake["inputs"]["artiq"] == ndsp_inputs["artiq"]
    [python] = flake["shell"]["packages"]
    assert [item["pname"] for item in python["withPackages"]] == [
        "artiq", "artiq-comtools", "acme_psu"]


# What the generated code needs of sipyco: the feature negotiation
# (pyon_v2) that its server relies on arrived in 1.10, SSL in 1.9; ARTIQ's
# release-8 pins 1.8.
SIPYCO_LACKING = ["1.8", "1.9"]
SIPYCO_NEEDED = "1.10"


def test_the_project_requires_the_sipyco_its_code_needs(render):
    """By name with a version, never a git+ URL (nix builds break)."""
    project = render()
    [sipyco] = [Requirement(text) for text in
                pyproject(project)["project"]["dependencies"]
                if Requirement(text).name == "sipyco"]
    assert sipyco.url is None
    assert SIPYCO_NEEDED in sipyco.specifier
    assert not [version for version in SIPYCO_LACKING
                if version in sipyco.specifier]
    install = (project / "README.md").read_text().split(
        "## Install\n", 1)[1].split("\n## ", 1)[0]
    assert f"sipyco {SIPYCO_NEEDED} or newer" in install


def test_the_flake_follows_an_artiq_whose_sipyco_is_new_enough(render):
    """The ARTIQ flake's master, whose sipyco is 1.10 or newer: no hint
    to follow a release branch, none of which has it yet."""
    text = (render() / "flake.nix").read_text()
    assert '  inputs.artiq.url = "git+https://github.com/m-labs/artiq.git";' \
        in text
    assert "?ref=" not in text
    assert f"sipyco {SIPYCO_NEEDED} or newer" in text


@NEEDS_NIX
def test_the_flake_holds_a_hostile_title_exactly(tmp_path):
    title = 'Say "hi" ${builtins.abort "x"} \\ 🌈'
    project = render_without_hooks(tmp_path, {"device_title": title})
    dependencies = pyproject(project)["project"]["dependencies"][1:]
    flake = evaluate_flake(project, [*dependencies, "setuptools", "flake8",
                                     "pytest"])
    assert flake["description"].endswith(" " + title)


# --- the workflows -------------------------------------------------------

def workflows(render):
    return [render() / GENERATED_WORKFLOW, TEMPLATE / GENERATED_WORKFLOW]


DEPENDABOT = ".github/dependabot.yml"


def check_schema(schema, *paths):
    result = run(sys.executable, "-m", "check_jsonschema",
                 "--builtin-schema", schema, *map(str, paths))
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_and_dependabot_pass_their_schemas_and_zizmor(render):
    """GitHub's workflow schema and Dependabot's (check-jsonschema's
    copies), and every zizmor audit, pedantic ones included, offline."""
    project = render()
    check_schema("vendor.github-workflows", *workflows(render))
    check_schema("vendor.dependabot", project / DEPENDABOT,
                 TEMPLATE / DEPENDABOT)
    zizmor = installed_script("zizmor")
    assert zizmor, "zizmor is in requirements-test.txt"
    audit = run(zizmor, "--offline", "--persona", "pedantic",
                "--no-progress", *map(str, workflows(render)),
                str(project / DEPENDABOT), str(TEMPLATE / DEPENDABOT))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings" in audit.stdout


@pytest.mark.parametrize("which", ["generated", "template"])
def test_dependabot_moves_the_pinned_actions(render, which):
    """Weekly, for the folder that holds .github/workflows; pre-commit's
    rev moves with `pre-commit autoupdate`, which the README says."""
    root = {"generated": render(), "template": TEMPLATE}[which]
    config = yaml.safe_load((root / DEPENDABOT).read_text())
    [update] = config["updates"]
    assert update["package-ecosystem"] == "github-actions"
    assert (root / update["directory"].lstrip("/") / GENERATED_WORKFLOW
            ).exists()
    assert update["schedule"]["interval"] in {"daily", "weekly"}
    if which == "generated":
        assert "pre-commit autoupdate" in (root / "README.md").read_text()


@pytest.mark.parametrize("which", ["generated", "template"])
def test_workflows_pin_actions_and_read_only(render, which):
    path = dict(zip(["generated", "template"], workflows(render)))[which]
    text = path.read_text()
    uses = re.findall(r"uses: .*", text)
    assert uses and all(PINNED.fullmatch(line) for line in uses), uses
    assert "permissions:\n  contents: read\n" in text
    checkouts = [line for line in uses if "actions/checkout@" in line]
    assert text.count("persist-credentials: false") == len(checkouts)
    assert "git+https://github.com/m-labs/sipyco.git" in text
    assert "git+https://github.com/m-labs/artiq-comtools.git" in text
    matrix = re.search(r'python-version: \[(.*)\]', text).group(1)
    assert json.loads(f"[{matrix}]") == SUPPORTED_PYTHONS


def test_the_generated_workflow_runs_where_labs_run_controllers(render):
    """Linux and Windows; copied as written (GitHub's ${{ }} untouched);
    Pythons from requires-python on; docs and packages checked."""
    project = render()
    text = (project / GENERATED_WORKFLOW).read_text()
    assert text == (TEMPLATE / "{{cookiecutter.device_name}}" /
                    GENERATED_WORKFLOW).read_text()
    assert "os: [ubuntu-latest, windows-latest]" in text
    assert pyproject(project)["project"]["requires-python"] == \
        ">=" + SUPPORTED_PYTHONS[0]
    for command in ("python -m flake8", "python -m pytest",
                    "python -m sphinx -W", "twine check --strict"):
        assert command in text


def test_the_generated_ci_runs_the_artiq_tests_in_the_dev_shell(render):
    """A job runs the whole suite in `nix develop`, with the flake's
    nixConfig (the M-Labs cache) accepted: ARTIQ, artiq_master and
    artiq_ctlmgr are there (the flake's tests check the shell holds
    them), so the tests that skip in the pip jobs run."""
    project = render()
    jobs = yaml.safe_load((project / GENERATED_WORKFLOW).read_text())["jobs"]
    [nix] = [job for job in jobs.values()
             if any("nix develop" in step.get("run", "")
                    for step in job["steps"])]
    [step] = [step for step in nix["steps"]
              if "nix develop" in step.get("run", "")]
    assert step["run"] == \
        "nix develop --accept-flake-config -c python -m pytest"
    assert any(step.get("uses", "").startswith("cachix/install-nix-action@")
               for step in nix["steps"])
    assert "nixConfig = {" in (project / "flake.nix").read_text()


def test_the_template_workflow_also_runs_without_sipyco():
    text = (TEMPLATE / GENERATED_WORKFLOW).read_text()
    jobs = text.split("\n  without-sipyco:\n")
    assert len(jobs) == 2, "a job without sipyco"
    assert "sipyco" not in jobs[1].split("steps:")[1]
    assert "python -m pip install -r requirements-test.txt" in jobs[1]
    assert "fetch-depth: 0" in jobs[0], "the cruft test needs the history"


def test_what_ci_installs_is_read_from_the_generated_workflow(tmp_path):
    """The project's own requirements, with its test extra, and the
    workflow's others: a requirement added there reaches the test."""
    project = render_without_hooks(tmp_path, {"transport": "visa"})
    metadata = pyproject(project)["project"]
    assert sorted(ci_requirements(project)) == sorted(
        ["sipyco", "artiq-comtools", "flake8", *metadata["dependencies"],
         *metadata["optional-dependencies"]["test"]])


# --- pre-commit, git ----------------------------------------------------

def test_pre_commit_runs_flake8(render):
    project = render()
    result = run(sys.executable, "-m", "pre_commit", "validate-config",
                 ".pre-commit-config.yaml", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / ".pre-commit-config.yaml").read_text()
    assert "repo: https://github.com/PyCQA/flake8\n" in text
    assert "- id: flake8\n" in text


def git(project, *arguments):
    result = run("git", "-c", "user.name=Test", "-c",
                 "user.email=test@example.com", *arguments, cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_git_checks_files_out_with_lf(render, tmp_path):
    project = tmp_path / "hello"
    shutil.copytree(render(), project)
    git(project, "init", "-q")
    for path in ("hello/driver.py", "README.md", "flake.nix"):
        assert git(project, "check-attr", "eol", "--", path) == \
            f"{path}: eol: lf\n"


# --- the docs ------------------------------------------------------------

# The example with the client, the mediator, asyncio and a title full of
# reST markup: the client's command line, the mediator (ARTIQ stood in for
# by Sphinx), coroutine methods and the title reach the docs. Then each
# pymeasure class, with pymeasure's reST (roles, Sphinx's directives,
# sections) in the API; the first's, the one with the most directives, in
# each client command's description too.
DOCS_ROWS = [
    next(answers for answers in COVERING
         if answers["include_client"] and answers["include_mediator"]
         and answers["driver_api"] == "asyncio"),
    pymeasure_answers(PYMEASURE_CLASSES[0], "include_client"),
    *map(pymeasure_answers, PYMEASURE_CLASSES[1:])]
MARKUP_TITLE = 'Acme *PSU* `x` |sub| _link 1. "q" \\ 🌈'


def driver_methods(project):
    """The public methods that the served driver class defines itself (the
    API page's autodoc shows those), as Sphinx ids (``hello.driver.C.m``)."""
    listed = run(sys.executable, "-c", (
        "import inspect\n"
        "from hello.aqctl_hello import CONTROLLER\n"
        "driver = CONTROLLER.driver\n"
        "print(driver.__name__, *(name for name, value in\n"
        "    vars(driver).items() if inspect.isfunction(value)\n"
        "    and not name.startswith('_')))"), cwd=project)
    assert listed.returncode == 0, listed.stderr
    name, *methods = listed.stdout.split()
    return [f"hello.driver.{name}.{method}" for method in methods]


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "docs import the controller for its command line")
@pytest.mark.parametrize("answers", DOCS_ROWS, ids=combination_id)
def test_the_docs_build_with_warnings_as_errors(render, tmp_path, answers):
    """Sphinx's warnings, and docutils' own where the argparse directive
    parses a help text without Sphinx (-W misses those): none."""
    if answers.get("driver_source") == "pymeasure":
        pytest.importorskip("pymeasure", reason="pymeasure is not "
                            "installed: the docs import the class")
    first = answers is DOCS_ROWS[0]
    if first:
        answers = dict(answers, device_title=MARKUP_TITLE)
    project = tmp_path / "hello"
    shutil.copytree(render(**answers), project)
    if first:  # for the check that git ignores the built docs
        git(project, "init", "-q")
    result = run(sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                 "docs", "docs/_build/html", cwd=project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"WARNING|ERROR|SEVERE", result.stderr), \
        result.stderr
    html = project / "docs" / "_build" / "html"
    api = (html / "api.html").read_text()
    methods = driver_methods(project)
    assert len(methods) >= 3  # ping, close, and the device's own
    for method in methods:
        assert f'id="{method}"' in api, method
    command_lines = (html / "command_lines.html").read_text()
    assert "--simulation" in command_lines
    assert ("aqcli_hello" in command_lines) == answers["include_client"]
    assert "system-message" not in api + command_lines
    mediator = html / "mediator.html"
    assert mediator.exists() == answers["include_mediator"]
    if answers["include_mediator"]:
        for method in ("ping", "describe", "trigger"):
            assert f'id="hello.mediator.HelloMediator.{method}"' in \
                mediator.read_text(), method
    if first:
        index = (html / "index.html").read_text()
        assert "Acme *PSU* `x` |sub| _link 1." in index
        assert (html / "index.html").is_file()
        seen = git(project, "ls-files", "--others", "--exclude-standard")
        assert "docs/conf.py" in seen.splitlines()
        assert "docs/_build/" not in seen


# --- the manual's rows ---------------------------------------------------

# The ARTIQ manual's two files (doc/manual/, ARTIQ master), their head and
# a row of each, as published: this NDSP's rows are pasted below them.
MANUAL_NDSP_LIST = """\
List of available NDSPs
=======================

.. csv-table::
    :header: Equipment, Nix package, MSYS2 package, Documentation, URL

    PDQ2,                           Not available, Not available, \
`HTML <https://pdq.readthedocs.io>`_, \
`GitHub <https://github.com/m-labs/pdq>`__
"""
MANUAL_PORT_TABLE = """\
+---------------------------------+--------------+
| Component                       | Default port |
+=================================+==============+
| InfluxDB driver (out-of-tree)   | 3276         |
+---------------------------------+--------------+
"""
PUBLISHED_TITLES = ["Hello", "Keithley 2400 (SMU), rev B", "a) b", "x" * 60,
                    "Ångström wavemeter 🌈 µ-wave", MARKUP_TITLE,
                    'Say "hi" \\ it\'s']


def table_rows(text):
    """The cells of every table row in ``text``, reST parsed by docutils;
    a warning fails (halt_level 2)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    doctree = publish_doctree(text, settings_overrides={
        "halt_level": 2, "report_level": 2, "warning_stream": False})
    return [[entry for entry in row.findall(nodes.entry)]
            for row in doctree.findall(nodes.row)]


def widened(table, columns):
    """The manual's port table with its first column ``columns`` wider."""
    return "".join(line[:34] + line[33] * columns + line[34:]
                   for line in table.splitlines(keepends=True))


@pytest.mark.parametrize("title", PUBLISHED_TITLES)
def test_the_readme_rows_parse_as_the_manuals_tables(tmp_path, title):
    """The README's two rows, pasted below the manual's (its port table
    widened as the README says where the title needs it), read back as
    this NDSP's title, port and address."""
    project = render_without_hooks(tmp_path, {"device_title": title})
    readme = (project / "README.md").read_text().split("## Publish\n")[1]
    list_row, port_rows = re.findall(r"```rst\n(.*?)```", readme, re.DOTALL)
    *_, ndsp = table_rows(MANUAL_NDSP_LIST + list_row)
    assert [cell.astext() for cell in ndsp] == [
        title, "Not available", "Not available", "Not available", "GitHub"]
    [link] = ndsp[4].findall(lambda node: "refuri" in node)
    assert link["refuri"] == "https://github.com/YOUR-ORG/hello"
    widening = re.search(r"this row (\d+) characters wider", readme)
    table = widened(MANUAL_PORT_TABLE, int(widening.group(1)) if widening
                    else 0)
    *_, port = table_rows(table + port_rows)
    assert port[0].astext() == title + " (out-of-tree)"
    assert int(port[1].astext()) == int(re.search(
        r"its default port, (\d+),", readme).group(1))
    # The manual's width where the row fits in it, its own where not.
    fits = len(title + " (out-of-tree)") <= 31 and title.isascii() \
        and "\\" not in title
    assert (widening is None) == fits


def test_read_the_docs_builds_as_ci_does(render):
    """.readthedocs.yaml passes its schema (check-jsonschema's copy) and
    builds as the workflow's docs job: its Python, sipyco from git, the
    docs extra, conf.py, warnings as errors."""
    project = render(include_mediator=True)
    check_schema("vendor.readthedocs", project / ".readthedocs.yaml")
    config = yaml.safe_load((project / ".readthedocs.yaml").read_text())
    docs_job = yaml.safe_load((project / GENERATED_WORKFLOW).read_text())[
        "jobs"]["docs-and-package"]["steps"]
    [python] = [step["with"]["python-version"] for step in docs_job
                if step.get("uses", "").startswith("actions/setup-python@")]
    assert config["build"]["tools"]["python"] == python
    [sipyco] = config["build"]["jobs"]["pre_install"]
    assert sipyco in "\n".join(step.get("run", "") for step in docs_job)
    [package] = config["python"]["install"]
    assert (package["path"], package["extra_requirements"]) == (".", ["docs"])
    assert (project / config["sphinx"]["configuration"]).is_file()
    assert config["sphinx"]["fail_on_warning"] is True


def test_git_ignores_what_builds_and_tests_leave(render, tmp_path):
    """sdist and wheel, caches: after them, git sees only the generated
    files (the docs' build: test_the_docs_build_with_warnings_as_errors)."""
    project = tmp_path / "hello"
    shutil.copytree(render(), project)
    generated = {path.relative_to(project).as_posix()
                 for path in project.rglob("*") if path.is_file()}
    git(project, "init", "-q")
    for command in (["-m", "build", "--no-isolation", "-x", "."],
                    ["-m", "pytest", "-q", "tests/test_contract_driver.py"]):
        run(sys.executable, *command, cwd=project, timeout=300)
    assert (project / "dist").is_dir()
    assert (project / ".pytest_cache").is_dir()
    seen = set(git(project, "ls-files", "--others", "--exclude-standard")
               .splitlines())
    assert seen == generated


# --- template updates ----------------------------------------------------

@pytest.fixture(scope="module")
def template_repository(tmp_path_factory):
    """A clone of this repository whose HEAD is its working tree, so that
    the tests update to what is being tested: (folder, HEAD's hash)."""
    if not (TEMPLATE / ".git").exists():
        pytest.skip("this template is not a git repository: cruft updates "
                    "between its commits")
    folder = tmp_path_factory.mktemp("template") / "ndsp-template"
    result = run("git", "clone", "-q", str(TEMPLATE), str(folder))
    assert result.returncode == 0, result.stderr
    if run("git", "cat-file", "-e", OLDER_COMMIT + "^{commit}",
           cwd=folder).returncode != 0:
        pytest.skip(f"commit {OLDER_COMMIT[:7]} is not in this clone (a "
                    "shallow one?): git fetch --unshallow")
    git(folder, "rm", "-rq", ".")
    copy_template_files(folder)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "--allow-empty", "-m", "the working tree")
    return folder, git(folder, "rev-parse", "HEAD").strip()


ANSWERS = {"transport": "tcp", "driver_api": "asyncio",
           "include_client": True, "license": "MIT",
           "author_name": 'Ån "x" \\', "run_checks": False}


def cruft(*arguments, cwd=None):
    result = run(sys.executable, "-m", "cruft", *arguments, cwd=cwd,
                 timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def cruft_create(repository, commit, output):
    cruft("create", "--no-input", "--checkout", commit, "--output-dir",
          str(output), "--extra-context", json.dumps(ANSWERS),
          f"file://{repository}")
    return output / "hello"


def tree(project):
    return {path.relative_to(project).as_posix(): path.read_bytes()
            for path in project.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(
                project).parts[:1]}


def committed_project(repository, commit, output):
    """A project made with cruft from ``commit``, in a git repository of
    its own, as its user keeps it."""
    project = cruft_create(repository, commit, output)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "generated")
    return project


def test_cruft_update_from_an_older_commit_equals_a_fresh_generation(
        template_repository, tmp_path):
    repository, head = template_repository
    project = committed_project(repository, OLDER_COMMIT, tmp_path / "old")
    assert not (project / "flake.nix").exists()
    cruft("update", "--skip-apply-ask", "--checkout", head, cwd=project)
    assert not list(project.rglob("*.rej"))
    fresh = cruft_create(repository, head, tmp_path / "fresh")
    assert tree(project) == tree(fresh)
    cruft("check", cwd=project)


def test_cruft_update_brings_a_changed_extension_module(
        template_repository, tmp_path):
    """From HEAD to a commit that changes ndsp_extensions.py: cruft renders
    both in one process, and the newer template gets its own module."""
    repository, head = template_repository
    project = committed_project(repository, head, tmp_path / "project")
    newer = tmp_path / "newer"
    shutil.copytree(repository, newer)
    extensions = newer / "ndsp_extensions.py"
    extensions.write_text(extensions.read_text().replace(
        "        transports=TRANSPORTS,\n",
        "        transports=TRANSPORTS,\n"
        "        added_later=\"a global of a newer template\",\n"))
    readme = newer / "{{cookiecutter.device_name}}" / "README.md"
    readme.write_text(readme.read_text() + "\n{{ added_later }}\n")
    git(newer, "commit", "-qam", "a newer template")
    cruft("update", "--skip-apply-ask", "--template-path", str(newer),
          "--checkout", git(newer, "rev-parse", "HEAD").strip(), cwd=project)
    assert (project / "README.md").read_text().endswith(
        "\na global of a newer template\n")
