"""Every combination renders into complete, valid, flake8-clean files."""

import ast
import fnmatch
import importlib.util
import itertools
import pathlib
import re
import runpy
import tomllib
from datetime import datetime, timezone

import pytest

from conftest import (CODE_OPTIONS, CODE_VALUES, COMBINATIONS, COVERING,
                      EVERYWHERE, by_libraries,
                      PYMEASURE_COMBINATIONS, QUESTIONS, TEMPLATE,
                      answers_for, combination_id, generate,
                      render_without_hooks, run_python)
import ndsp_extensions

OPTIONS = ndsp_extensions.OPTIONS

UNRENDERED = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|cookiecutter\.")
HOSTILE_TEXT = [
    pytest.param('Say "hi" \\ it\'s', id="quotes-backslash"),
    pytest.param("Ångström wavemeter 🌈 µ-wave", id="non-ascii-emoji"),
    pytest.param('"""\\n\\\\ \'\'\' # end', id="python-syntax"),
    pytest.param("\\" * 30, id="backslashes"),
]


def files(project):
    return sorted(path for path in project.rglob("*") if path.is_file())


def evaluations(tree):
    """Calls that run text as code: none in a package that serves RPC."""
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and called(node) in EVALUATIONS]


# The builtins eval, exec and compile, and ast.literal_eval and any
# loads() (pickle's, pyon's); re.compile() makes no code.
EVALUATIONS = {"eval", "exec", "compile", "literal_eval", "loads"}


def called(call):
    """The name a call calls: ``eval`` of eval(), ``loads`` of
    pyon.loads(); None for re.compile()."""
    function = call.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        owner = getattr(function.value, "id", None)
        return None if owner == "re" else function.attr
    return None


def test_every_combination_renders_valid_flake8_clean_files(tmp_path):
    """All of them, rendered without hooks: nothing left unrendered,
    Python and TOML that parse, no evaluation of input in the package, and
    flake8 on each distinct Python file (most are the same in many
    combinations), in one run."""
    distinct = {}  # file content -> (combination, path in the project)
    parsed = set()  # (file content, whether in the package)
    for number, answers in enumerate(COMBINATIONS + PYMEASURE_COMBINATIONS):
        project = render_without_hooks(tmp_path / str(number), answers)
        for path in files(project):
            relative = path.relative_to(project)
            text = path.read_text()
            where = (combination_id(answers), str(relative))
            copied = any(
                fnmatch.fnmatch(str(relative), pattern.replace(
                    "{{cookiecutter.device_name}}", project.name))
                for pattern in QUESTIONS["_copy_without_render"])
            # A workflow keeps GitHub's own ${{ }}; the runtime is Python.
            if not copied:
                assert not UNRENDERED.search(str(relative) + text), where
            in_package = relative.parts[0] == "hello"
            if path.suffix == ".py" and (text, in_package) not in parsed:
                parsed.add((text, in_package))  # each text once
                tree = ast.parse(text, filename=str(path))
                if in_package:
                    assert not evaluations(tree), where
                distinct.setdefault(text, where)
        tomllib.loads((project / "pyproject.toml").read_text())
    # Each distinct file in a numbered copy of its place in the project,
    # the project's flake8 configuration following it there.
    lint = tmp_path / "distinct"
    origins = list(distinct.values())
    for number, (text, (_, relative)) in enumerate(distinct.items()):
        copy = lint / str(number) / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text)
    configuration = (project / ".flake8").read_text()
    (lint / ".flake8").write_text(
        configuration.replace("tests/*:", "*/tests/*:"))
    result = run_python("-m", "flake8", ".", cwd=lint)
    problems = []
    for line in result.stdout.splitlines():
        number, _, problem = line.removeprefix("./").partition("/")
        combination, _ = origins[int(number)]
        problems.append(f"{combination}: {problem}")
    assert result.returncode == 0 and not problems, \
        "\n".join(problems) or result.stderr


@pytest.mark.parametrize("answers", COVERING + PYMEASURE_COMBINATIONS[:2],
                         ids=combination_id)
def test_optional_files_follow_the_registry(render, answers):
    project = render(**answers)
    kept = {}  # a file under two options is kept where both keep it
    for key, option in OPTIONS.items():
        for path, kept_for in option.get("adds", {}).items():
            kept[path] = kept.get(path, True) and \
                answers.get(key, option["values"][0]) in kept_for
    for path, expected in kept.items():
        assert (project / path.format(name="hello")).exists() == expected, \
            path
    scripts = tomllib.loads(
        (project / "pyproject.toml").read_text())["project"]["scripts"]
    expected = {"aqctl_hello": "hello.aqctl_hello:main"}
    if answers["include_client"]:
        expected["aqcli_hello"] = "hello.aqcli_hello:main"
    assert scripts == expected


@pytest.mark.parametrize("answers", COVERING, ids=combination_id)
def test_the_chosen_transports_library_is_a_dependency(render, answers):
    """The chosen transport's library is a dependency, every other's an
    extra: -d picks the transport."""
    pyproject = tomllib.loads((render(**answers) / "pyproject.toml")
                              .read_text())["project"]
    record = ndsp_extensions.TRANSPORTS[answers["transport"]]
    assert pyproject["dependencies"] == [
        "sipyco>=1.10", "numpy", *record["libraries"],
        *(["tqdm"] if answers["include_client"] else [])]
    extras = pyproject["optional-dependencies"]
    for transport, facts in ndsp_extensions.TRANSPORTS.items():
        assert extras.get(transport, []) == facts["libraries"]
    assert extras["test"] == ["pytest>=7"]


def public_functions(tree):
    """A module's public functions, and its classes' public methods."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = [*tree.body, *(node for top in tree.body
                           if isinstance(top, ast.ClassDef)
                           and not top.name.startswith("_")
                           for node in top.body)]
    return [node for node in nodes if isinstance(node, functions)
            and not node.name.startswith("_")]


@pytest.mark.parametrize("answers", COVERING, ids=combination_id)
def test_driver_api_shapes_the_driver_and_its_transports(render, answers):
    package = render(**answers) / "hello"
    coroutine = answers["driver_api"] == "asyncio"
    for module in ("driver.py",):
        tree = ast.parse((package / module).read_text())
        methods = public_functions(tree)
        assert len(methods) >= 3, module
        assert len(methods) >= 3, module
        for method in methods:
            assert isinstance(method, ast.AsyncFunctionDef) == coroutine, \
                (module, method.name)


@pytest.mark.parametrize("spdx", QUESTIONS["license"])
def test_license_text_and_metadata(render, spdx):
    project = render(license=spdx)
    source = (TEMPLATE / "templates" / "licenses" / f"{spdx}.txt").read_text()
    expected = source.replace(
        "{% now 'utc', '%Y' %}", str(datetime.now(timezone.utc).year)
    ).replace("{{ cookiecutter.author_name }}", "Your Name")
    assert (project / "LICENSE").read_text() == expected
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == spdx
    assert pyproject["project"]["license-files"] == ["LICENSE"]


def test_cookiecutter_json_offers_what_the_registry_holds():
    for key, option in OPTIONS.items():
        offered = QUESTIONS[key]
        if isinstance(offered, bool):
            assert offered is option["values"][0], key
            assert sorted(option["values"]) == [False, True], key
        else:
            assert offered == option["values"], key


def test_every_path_in_the_registry_exists():
    """Each file an answer adds, and each fragment that every combination
    of answers includes."""
    for option in OPTIONS.values():
        for path in option.get("adds", {}):
            generated = path.format(name="{{cookiecutter.device_name}}")
            assert (TEMPLATE / "{{cookiecutter.device_name}}" /
                    generated).is_file(), path
    values = {key: option["values"] for key, option in OPTIONS.items()
              if key not in CODE_OPTIONS}
    for combination in COMBINATIONS:
        answers = answers_for(**combination)  # with the hidden ones
        for key, other_values in values.items():
            for value in other_values:
                answers_with = dict(answers, **{key: value})
                for option in OPTIONS.values():
                    for fragment in option.get("fragments", []):
                        path = fragment.format(**answers_with)
                        assert (TEMPLATE / path).is_file(), path


def pairs_met(combinations, values):
    """The pairs of values that meet, of two options one of which changes
    every file (EVERYWHERE)."""
    return {(a, c[a], b, c[b]) for c in combinations
            for a, b in itertools.combinations(values, 2)
            if a in EVERYWHERE or b in EVERYWHERE}


def by_device(combinations):
    return [dict(answers, transport=ndsp_extensions.TRANSPORTS[
        answers["transport"]]["device"]) for answers in combinations]


def test_the_covering_set_meets_every_pair_that_may_meet():
    """Every value of the example device and of driver_api with every value
    of every option; a transport left out has its libraries on a row."""
    transports = ndsp_extensions.TRANSPORTS
    device_values = dict(CODE_VALUES, transport=sorted(
        {record["device"] for record in transports.values()}))
    assert pairs_met(by_device(COVERING), device_values) == \
        pairs_met(by_device(COMBINATIONS), device_values)
    installed = {answers["transport"] for answers in COVERING}
    for name, record in transports.items():
        assert any(set(record["libraries"]) <= set(
            transports[other]["libraries"]) and record["device"] ==
            transports[other]["device"] for other in installed), name
    assert COVERING[0] == {key: values[0]
                           for key, values in CODE_VALUES.items()}
    # 2 devices times 2 driver_apis; 64 combinations are allowed.
    assert len(COVERING) == 4


def test_the_transports_take_the_extremes_of_their_libraries_first():
    assert by_libraries(["serial", "tcp", "visa"]) == \
        ["visa", "tcp", "serial"]


def test_conflicting_answers_are_left_out():
    for together, _ in ndsp_extensions.CONFLICTS:
        assert not [c for c in COMBINATIONS
                    if all(c[key] == value for key, value in together.items())]
    assert len(COMBINATIONS) == 4 * 2 * 2 * 2 * 2


def test_every_transport_has_its_record():
    assert list(ndsp_extensions.TRANSPORTS) == OPTIONS["transport"]["values"]
    for record in ndsp_extensions.TRANSPORTS.values():
        assert set(record) == {"device", "address", "libraries", "modules"}


def test_every_question_has_its_readme_row():
    readme = (TEMPLATE / "README.md").read_text()
    questions = [key for key in QUESTIONS if not key.startswith("_")]
    rows = re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", readme, re.MULTILINE)
    assert sorted(key for row in rows for key in row if key) == \
        sorted(questions)


def test_packaging_metadata(render):
    project = tomllib.loads((render() / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == ["sipyco>=1.10", "numpy"]
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["build-system"]["build-backend"] == \
        "setuptools.build_meta"


def test_the_generated_suite_is_strict(render):
    """pytest refuses a misspelt marker or setting and a passing xfail,
    and any warning fails the test (the installed projects' suites run
    this way in test_generated)."""
    settings = tomllib.loads((render() / "pyproject.toml").read_text())[
        "tool"]["pytest"]["ini_options"]
    assert {"--strict-markers", "--strict-config"} <= set(settings["addopts"])
    assert settings["xfail_strict"] is True
    assert settings["filterwarnings"] == ["error"]
    assert int(settings["minversion"]) >= 7, "pythonpath needs pytest 7"


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_free_text_renders_exactly(tmp_path, text):
    project = generate(tmp_path, device_title=text, author_name=text)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["authors"][0]["name"] == text
    assert pyproject["project"]["description"].endswith(" " + text)
    controller = ast.parse((project / "hello" / "aqctl_hello.py").read_text())
    titles = [ast.literal_eval(node.value) for node in controller.body
              if isinstance(node, ast.Assign)
              and node.targets[0].id == "TITLE"]
    assert titles == [text]
    assert text in (project / "README.md").read_text()
    # The Python files the text reaches (the others do not change with
    # it, and test_every_combination lints them).
    result = run_python("-m", "flake8", "hello/aqctl_hello.py",
                        "docs/conf.py", cwd=project)
    assert result.returncode == 0, result.stdout


# A transport of each example device: the code differs with the device.
DEVICE_TRANSPORTS = list({record["device"]: transport for transport, record
                          in ndsp_extensions.TRANSPORTS.items()}.values())


@pytest.mark.parametrize("transport", DEVICE_TRANSPORTS)
def test_longest_name_stays_flake8_clean(tmp_path, transport):
    name = "a_very_long_device_namex"
    assert len(name) == 24
    project = render_without_hooks(tmp_path, dict(
        device_name=name, include_client=True, device_title="T" * 60,
        transport=transport, driver_api="asyncio"))
    result = run_python("-m", "flake8", ".", cwd=project)
    assert result.returncode == 0, result.stdout


def test_default_port_is_derived_from_the_name(render):
    project = render()
    port = ndsp_extensions.derived_port("hello")
    assert f"DEFAULT_PORT = {port}\n" in \
        (project / "hello" / "aqctl_hello.py").read_text()
    device_db = runpy.run_path(str(project / "device_db.py"))["device_db"]
    assert device_db["hello"]["port"] == port
    assert ndsp_extensions.derived_port("wavemeter") != port


MANUAL_PORTS = set(ndsp_extensions.ARTIQ_PORTS) | set(
    ndsp_extensions.NDSP_PORTS)


def test_derived_ports_avoid_the_manual_s_and_privileged_ports():
    ports = {ndsp_extensions.derived_port(f"device{i}") for i in range(500)}
    assert len(ports) > 480  # spread out: about 6 birthday collisions
    assert not ports & MANUAL_PORTS
    assert min(ports) >= 1024 and max(ports) <= 65535


def test_a_derived_port_steps_over_the_manual_s_ports(monkeypatch):
    """Were the range to hold them, the derived default would still land
    on no port of the manual's table, ARTIQ's or another NDSP's."""
    monkeypatch.setattr(ndsp_extensions, "DERIVED_PORT_RANGE",
                        range(3240, 3290))
    ports = {ndsp_extensions.derived_port(f"device{i}") for i in range(500)}
    assert ports == set(range(3240, 3290)) - MANUAL_PORTS


def artiq_manual_ports():
    """The ARTIQ manual's table of ports, where ARTIQ is a source tree (as
    a .pth file or `pip install -e` leaves it): a wheel has no manual."""
    spec = importlib.util.find_spec("artiq")
    if spec is None or spec.origin is None:
        return None
    table = (pathlib.Path(spec.origin).parent.parent / "doc" / "manual" /
             "default_network_ports.rst")
    return table if table.is_file() else None


ARTIQ_MANUAL_PORTS = artiq_manual_ports()


@pytest.mark.skipif(
    ARTIQ_MANUAL_PORTS is None, reason="ARTIQ's source tree, whose manual "
    "lists the ports, is not installed")
def test_the_port_tables_are_the_artiq_manual_s():
    """Every row of the manual's table, in one of the two: an
    out-of-tree NDSP's, or ARTIQ's own."""
    artiq, ndsp = {}, {}
    rows = re.findall(r"^\| (.+?) +\| ([0-9]+)(?:-([0-9]+))? +\|$",
                      ARTIQ_MANUAL_PORTS.read_text(), re.MULTILINE)
    assert len(rows) > 20
    for component, first, last in rows:
        name = component.removesuffix(" (out-of-tree)")
        table = ndsp if name != component else artiq
        for port in range(int(first), int(last or first) + 1):
            table[port] = name
    assert ndsp_extensions.ARTIQ_PORTS == artiq
    assert ndsp_extensions.NDSP_PORTS == ndsp


def test_the_readme_states_the_port_tables():
    readme = (TEMPLATE / "README.md").read_text()
    [row] = re.findall(r"^\| `default_port` \|.*$", readme, re.MULTILINE)
    for ports in (ndsp_extensions.ARTIQ_PORTS, ndsp_extensions.NDSP_PORTS):
        assert f"({ndsp_extensions.port_ranges(ports)})" in row


@pytest.mark.parametrize("ports, ranges", [
    ([], ""), ([3249], "3249"), ([1068, 1066, 1067], "1066-1068"),
    ([1066, 1067, 1068, 1380, 3275], "1066-1068, 1380, 3275"),
])
def test_port_ranges(ports, ranges):
    assert ndsp_extensions.port_ranges(ports) == ranges


@pytest.mark.parametrize("text", [
    'plain', 'with "quotes"', "it's", "back\\slash", "Ångström 🌈", "\t\x01",
])
def test_string_filters_round_trip(text):
    assert ast.literal_eval(ndsp_extensions.py_string(text)) == text
    assert tomllib.loads("x = " + ndsp_extensions.toml_string(text))["x"] \
        == text


def test_device_title_follows_the_name(render):
    project = render(device_name="acme_psu")
    assert (project / "README.md").read_text().startswith("# Acme Psu\n")
    controller = (project / "acme_psu" / "aqctl_acme_psu.py").read_text()
    assert 'TITLE = "Acme Psu"\n' in controller
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"].endswith(" Acme Psu")
    for path in files(project):
        assert "Hello" not in path.read_text(), path


RUNTIME = (TEMPLATE / "{{cookiecutter.device_name}}"
           / "{{cookiecutter.device_name}}" / "ndsp_runtime")


def tree_bytes(folder):
    return {path.relative_to(folder): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()
            and "__pycache__" not in path.parts}


@pytest.mark.parametrize("answers", [
    *COVERING, {"device_name": "acme_psu", "device_title": "Ångström \"x\""},
    PYMEASURE_COMBINATIONS[0]],
    ids=lambda answers: combination_id(answers))
def test_the_runtime_is_the_same_bytes_in_every_project(tmp_path, answers):
    """Copied, not rendered: nothing of the answers in it, so that cruft
    updates it and nobody merges it."""
    name = answers.get("device_name", "hello")
    project = render_without_hooks(tmp_path, answers)
    expected = tree_bytes(RUNTIME)
    for key, option in OPTIONS.items():  # less the add-ons not chosen
        for path, kept_for in option.get("adds", {}).items():
            module = pathlib.Path(path).relative_to("{name}/ndsp_runtime") \
                if path.startswith("{name}/ndsp_runtime/") else None
            if module and answers.get(key, option["values"][0]) \
                    not in kept_for:
                del expected[module]
    assert tree_bytes(project / name / "ndsp_runtime") == expected


@pytest.mark.parametrize("answers", PYMEASURE_COMBINATIONS[:3:2],
                         ids=combination_id)
def test_a_pymeasure_ndsp_names_its_class_and_pins_pymeasure(render,
                                                             answers):
    """The driver is the class, served: no driver code, no fake device;
    pymeasure pinned to its minor release; the device_db entry and the
    README's address are a VISA resource, the class's own address."""
    project = render(**answers)
    path = answers["pymeasure_class"]
    class_name = path.rpartition(".")[2]
    driver = (project / "hello" / "driver.py").read_text()
    assert f'{class_name} = served_class(\n    "{path}")' in driver
    assert not (project / "hello" / "fake_device.py").exists()
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())[
        "project"]["dependencies"]
    assert ndsp_extensions.PYMEASURE in dependencies
    address = ndsp_extensions.DRIVER_SOURCES["pymeasure"]["address"]
    assert f"-d {address}" in (project / "device_db.py").read_text()
    readme = (project / "README.md").read_text()
    assert f"-m hello.ndsp_runtime.pymeasure_export {path}" in readme
    assert "fake_device.py" not in readme
    controller = (project / "hello" / "aqctl_hello.py").read_text()
    assert f"driver={class_name}," in controller
    assert "FakeDevice" not in controller
