"""Render the template cheaply, once per combination, for every test."""

import importlib.util
import itertools
import json
import logging
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile

from unittest import mock

import cookiecutter.generate as cookiecutter_generate
import jinja2
import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from cookiecutter.utils import create_env_with_context

TEMPLATE = pathlib.Path(__file__).resolve().parent.parent
QUESTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
HAS_SIPYCO = importlib.util.find_spec("sipyco") is not None
NEEDS_SIPYCO = pytest.mark.skipif(
    not HAS_SIPYCO, reason="sipyco is not installed: this test runs the "
    "generated controller over the real sipyco RPC")

# The suites this one starts (generated projects', ported ones') run as
# their users run them, not as a pytest-xdist worker: plugins read its
# variables (pytest-benchmark then warns, an error under their strict
# settings).
for variable in [name for name in os.environ
                 if name.startswith("PYTEST_XDIST_")]:
    del os.environ[variable]

# ndsp_extensions is imported by cookiecutter from the template folder.
sys.path.insert(0, str(TEMPLATE))
import ndsp_extensions  # noqa: E402


def write_cookiecutter_config(folder):
    """A cookiecutter config keeping its replay and clone folders here."""
    config = folder / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {json.dumps(str(folder / 'cc'))}\n"
                      f"replay_dir: {json.dumps(str(folder / 'replay'))}\n")
    return config


@pytest.fixture(scope="session", autouse=True)
def keep_out_of_home(tmp_path_factory):
    """cookiecutter's replay files and pip's cache go to a temporary
    folder, for these tests and every program they start."""
    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COOKIECUTTER_CONFIG",
                     str(write_cookiecutter_config(folder)))
        patch.setenv("PIP_CACHE_DIR", str(folder / "pip-cache"))
        yield folder


# The order in which pytest-xdist hands out whole files (--dist loadfile,
# --no-loadscope-reorder): the expensive checks first (two installations
# at a time), beside the files that mostly wait (on timeouts, on the
# controllers they start), then the ones that keep a core busy, so that
# neither core idles at the end.
FILE_ORDER = ["test_generated.py", "test_transports.py",
              "test_runtime_server.py", "test_runtime_channel.py",
              "test_runtime_client_io.py",
              "test_runtime_pymeasure.py", "test_attacks.py",
              "test_runtime_controller.py", "test_framing.py",
              "test_runtime_client.py", "test_runtime_bulk.py",
              "test_readme.py", "test_render.py", "test_hooks.py",
              "test_publishing.py", "test_ported.py", "test_port_binary.py"]


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """The root logger's handlers and level as before each test: a
    client's main() run in-process adds a handler on the stream that
    pytest captured, which later tests' threads would write to."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_collection_modifyitems(config, items):
    """The files in FILE_ORDER; deselected, the tests that a module says
    run elsewhere (its RUN_ELSEWHERE, names of its tests)."""
    items.sort(key=lambda item: FILE_ORDER.index(item.path.name)
               if item.path.name in FILE_ORDER else len(FILE_ORDER))
    elsewhere = [item for item in items if getattr(item, "originalname", None)
                 in getattr(getattr(item, "module", None), "RUN_ELSEWHERE",
                            ())]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


def copy_template_files(destination):
    """Copy the template's files as git sees them (tracked, or new and not
    ignored) to ``destination``: no .git, virtual environment, caches or
    generated hello/, as in a fresh clone of the working tree."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], cwd=TEMPLATE, capture_output=True, text=True)
    if listing.returncode != 0:  # not a git checkout
        shutil.copytree(TEMPLATE, destination, ignore=shutil.ignore_patterns(
            ".git", ".venv", "hello", "__pycache__", ".pytest_cache",
            ".hypothesis"))
        return destination
    for name in filter(None, listing.stdout.split("\0")):
        if (TEMPLATE / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, destination / name)
    return destination


# The options whose answers change the generated code, from the registry.
CODE_OPTIONS = {key: option for key, option in
                ndsp_extensions.OPTIONS.items() if option.get("shapes_code")}
YES_NO = [key for key, option in CODE_OPTIONS.items()
          if option["values"] == [False, True]]


def combination_id(answers):
    """A test id naming the combination, e.g. ``tcp-asyncio-client``;
    a pymeasure NDSP's by its class: ``Agilent33500-client``."""
    parts, shaping = [], CODE_OPTIONS
    if answers.get("driver_source") == "pymeasure":
        parts.append(answers["pymeasure_class"].rpartition(".")[2])
        answers = {key: value for key, value in answers.items()
                   if key not in ("driver_source", "pymeasure_class")}
        shaping = {key: CODE_OPTIONS[key] for key in YES_NO}
    for key, option in shaping.items():
        value = answers.get(key, option["values"][0])
        if isinstance(value, bool):
            value = option["label"] if value else "no_" + option["label"]
        parts.append(value)
    parts += [f"{key}={value}" for key, value in sorted(answers.items())
              if key not in CODE_OPTIONS]
    return "-".join(parts)


def allowed(answers):
    """Whether no conflict of the registry forbids these answers."""
    return not any(all(answers.get(key) == value
                       for key, value in together.items())
                   for together, _ in ndsp_extensions.CONFLICTS)


def product(options):
    """Every allowed combination of the options' values."""
    keys = list(options)
    return [combination for combination in
            (dict(zip(keys, values)) for values in
             itertools.product(*(options[key] for key in keys)))
            if allowed(combination)]


def pairwise_covering(options, meet=lambda a, b: True, tries=50):
    """Few allowed combinations of the options' values in which every two
    values of two options that may meet (``meet(a, b)``, the options' keys)
    do meet at least once. Greedy: the defaults first, then the
    combination that meets the most pairs not yet met; the smallest set of
    a few tries, each breaking ties in its own (seeded, so always the
    same) order."""
    keys = list(options)
    candidates = product(options)

    def pairs(combination):
        return {((a, combination[a]), (b, combination[b]))
                for a, b in itertools.combinations(keys, 2) if meet(a, b)}

    def greedy(order):
        unmet = set().union(*map(pairs, candidates))
        chosen = []
        while unmet:
            best = max(order, key=lambda c: len(pairs(c) & unmet))
            chosen.append(best)
            unmet -= pairs(best)
        return chosen

    orders = []
    for seed in range(tries):
        order = candidates[1:]
        random.Random(seed).shuffle(order)
        orders.append([candidates[0], *order])
    return min(map(greedy, orders), key=len)


CODE_VALUES = {key: option["values"] for key, option in CODE_OPTIONS.items()}
# Every allowed combination of the options that shape the code: rendered
# without hooks, they are cheap. The other options (the licence) have
# tests of their own.
COMBINATIONS = product(CODE_VALUES)


# The options that change the code of every file: the example device (the
# transport) and driver_api. Every value of theirs meets every value of
# every option; the add-ons, each a file of its own, meet each of theirs,
# not each other.
EVERYWHERE = ("transport", "driver_api")


def by_libraries(transports):
    """The transports, the one with the most libraries first, then the one
    with the fewest, and so on inwards: the rows of a device take the
    extremes of its dependencies first."""
    records = ndsp_extensions.TRANSPORTS
    ordered = sorted(transports, key=lambda name: -len(
        records[name]["libraries"]))
    return [ordered.pop(-(number % 2)) for number in range(len(ordered))]


def device_covering(values):
    """A covering set in which every value of an option in EVERYWHERE
    meets every value of every other option, the transport counted by its
    example device (every transport ships in every project: the answer
    changes the code through the device alone, and the dependencies
    through its libraries). A device's rows, the one with the fewest
    add-ons first, take its transports in the order of by_libraries: a
    transport left out has libraries that a transport on a row has too (a
    test checks it), and the widest transport's project, installed with
    only what its workflow installs, has no mediator, whose tests need the
    ARTIQ that the workflow does not install."""
    records = ndsp_extensions.TRANSPORTS
    devices = {}  # device -> its transports, the first standing for all
    for transport in values["transport"]:
        devices.setdefault(records[transport]["device"], []).append(transport)
    rows = pairwise_covering(
        dict(values, transport=[transports[0]
                                for transports in devices.values()]),
        meet=lambda a, b: a in EVERYWHERE or b in EVERYWHERE)
    for transports in devices.values():
        mine = sorted((row for row in rows
                       if row["transport"] == transports[0]),
                      key=lambda row: sum(row[key] is True for key in row))
        for row, transport in zip(mine, itertools.cycle(
                by_libraries(transports))):
            row["transport"] = transport
    return rows


# The checks that need a real generation, and the expensive ones
# (generated test suites, packaging, artiq_ctlmgr), run on a pairwise
# covering set.
COVERING = device_covering(CODE_VALUES)


# The pymeasure classes the issue names, each of a different kind: an SMU,
# a function generator with channels, a serial instrument that does not
# speak plain SCPI. A pymeasure NDSP changes with its class and the yes/no
# options, not with the transport or driver_api: each class is rendered,
# with none or all of them; one project is installed (test_generated.py).
PYMEASURE_CLASSES = ["pymeasure.instruments.keithley.Keithley2400",
                     "pymeasure.instruments.agilent.Agilent33500",
                     "pymeasure.instruments.thorlabs.ThorlabsPro8000"]


def pymeasure_answers(path, *yes):
    return dict(driver_source="pymeasure", pymeasure_class=path,
                **{key: key in yes for key in YES_NO})


PYMEASURE_COMBINATIONS = [
    pymeasure_answers(PYMEASURE_CLASSES[0]),
    pymeasure_answers(PYMEASURE_CLASSES[0], *YES_NO),
    pymeasure_answers(PYMEASURE_CLASSES[1], *YES_NO),
    pymeasure_answers(PYMEASURE_CLASSES[2])]
# Without the client, whose contract tests take a few calls per method
# (its commands for the three classes are checked in-process, in
# test_runtime_pymeasure); the channels are served over RPC there too.
PYMEASURE_INSTALLED = pymeasure_answers(
    PYMEASURE_CLASSES[2], *(key for key in YES_NO if key != "include_client"))


def generate(output_dir, **answers):
    """Generate an NDSP through cookiecutter itself; return its folder."""
    answers.setdefault("run_checks", False)
    return pathlib.Path(cookiecutter(
        str(TEMPLATE), no_input=True, extra_context=answers,
        output_dir=str(output_dir)))


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory: each cookiecutter run
    makes a Jinja environment of its own, which would compile every file
    of the template again (80% of a render). Jinja checks each file's
    source against what it compiled."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def environment_keeping_compiled_templates(context):
    environment = create_env_with_context(context)
    environment.bytecode_cache = COMPILED_TEMPLATES
    return environment


def render_without_hooks(output, answers):
    """What cookiecutter writes for ``answers``, less the files that the
    post-generation hook removes (by the registry, as it does); the hooks
    themselves have their own tests."""
    with mock.patch.object(cookiecutter_generate, "create_env_with_context",
                           environment_keeping_compiled_templates):
        project = pathlib.Path(cookiecutter(
            str(TEMPLATE), no_input=True, output_dir=str(output),
            extra_context=dict(answers, run_checks=False),
            accept_hooks=False))
    for key, option in ndsp_extensions.OPTIONS.items():
        for path, kept_for in option.get("adds", {}).items():
            if answers.get(key, option["values"][0]) not in kept_for:
                (project / path.format(name=project.name)).unlink(
                    missing_ok=True)
    return project


def answers_for(**overrides):
    """The answers cookiecutter would give its hooks, defaults included."""
    context = generate_context(
        context_file=str(TEMPLATE / "cookiecutter.json"),
        extra_context=overrides)
    return dict(prompt_for_config(context, no_input=True))


def render_hook(hook_name, answers, destination):
    """Write the hook as cookiecutter renders it for ``answers``."""
    source = (TEMPLATE / "hooks" / f"{hook_name}.py").read_text()
    context = {"cookiecutter": answers}
    environment = StrictEnvironment(context=context,
                                    keep_trailing_newline=True)
    destination.write_text(environment.from_string(source).render(**context))
    return destination


def hook_module(hook_name, answers, folder):
    """The hook as cookiecutter renders it for ``answers``, imported as a
    module (not run): its functions, to test in-process."""
    path = render_hook(hook_name, answers, folder / f"{hook_name}.py")
    spec = importlib.util.spec_from_file_location(
        f"rendered_{hook_name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(*arguments, cwd=None, timeout=120):
    return subprocess.run([sys.executable, *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def run_cookiecutter(output_dir, *answers, template=None):
    """The command line a newcomer runs, with ``key=value`` answers."""
    return run_python("-m", "cookiecutter", "--no-input", "-o",
                      str(output_dir), str(template or TEMPLATE), *answers)


@pytest.fixture(scope="session")
def render(tmp_path_factory):
    """``render(**answers)``: the generated folder, made once per answers."""
    cache = {}

    def render(**answers):
        key = json.dumps(answers, sort_keys=True)
        if key not in cache:
            output = tmp_path_factory.mktemp(combination_id(answers)[:40])
            cache[key] = generate(output, **answers)
        return cache[key]

    return render


@pytest.fixture(scope="session")
def certificates():
    """Self-signed certificates (P-256 keys) of the controller, a client
    it trusts and a stranger: {name: (certificate, key)}."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not on PATH: it makes the "
                    "throwaway certificates")
    folder = pathlib.Path(tempfile.mkdtemp(prefix="ssl-"))
    curve = folder / "p-256.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-out",
                    str(curve)], check=True, capture_output=True)
    made = {}
    for name in ("controller", "client", "stranger"):
        made[name] = (str(folder / f"{name}.pem"), str(folder / f"{name}.key"))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", f"ec:{curve}", "-nodes",
             "-sha256", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", made[name][1], "-out", made[name][0]],
            check=True, capture_output=True)
    yield made
    shutil.rmtree(folder, ignore_errors=True)
