"""The runtime's pymeasure bridge (ndsp_runtime.pymeasure_*), in this
process but for one controller: the RPC methods built from the class
alone, held against a snapshot; the simulated instrument; the export to
plain driver code; and the served class over the real sipyco RPC."""

import argparse
import asyncio
import inspect
import os
import pathlib
import subprocess
import sys
import time
import warnings

import pytest

from conftest import HAS_SIPYCO, PYMEASURE_CLASSES, TEMPLATE, run_python
from installed import free_port

pytest.importorskip("pymeasure", reason="pymeasure is not installed: "
                    "these tests serve its instrument classes")
RUNTIME_PARENT = TEMPLATE / "{{cookiecutter.device_name}}" / \
    "{{cookiecutter.device_name}}"
sys.path.insert(0, str(RUNTIME_PARENT))
warnings.filterwarnings("ignore", category=FutureWarning,
                        module="pymeasure")

from ndsp_runtime import (pymeasure_classes, pymeasure_driver,  # noqa: E402
                          pymeasure_export, pymeasure_fake)

SNAPSHOTS = pathlib.Path(__file__).parent / "pymeasure_snapshots"
# NDSP_UPDATE_SNAPSHOTS=1 python3 -m pytest tests/test_runtime_pymeasure.py
# writes them anew, after a deliberate change.
UPDATE = os.environ.get("NDSP_UPDATE_SNAPSHOTS") == "1"
SERVED = {path: pymeasure_driver.served_class(path)
          for path in PYMEASURE_CLASSES}
IDS = [path.rpartition(".")[2] for path in PYMEASURE_CLASSES]


def snapshot(instrument_class):
    """The method list as a text: a line per method, its signature and
    its docstring's first line."""
    return "".join(
        f"{method.name}{method.signature}  # {method.doc.splitlines()[0]}\n"
        for method in pymeasure_driver.rpc_methods(instrument_class))


@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_the_method_list_matches_its_snapshot(path):
    served = SERVED[path]
    stored = SNAPSHOTS / f"{served.__name__}.txt"
    if UPDATE:
        stored.parent.mkdir(exist_ok=True)
        stored.write_text(snapshot(served.instrument_class))
    assert snapshot(served.instrument_class) == stored.read_text()


@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_every_method_is_documented_with_annotations_sipyco_names(path):
    served = SERVED[path]
    methods = pymeasure_driver.rpc_methods(served.instrument_class)
    assert len(methods) > 30
    for method in methods:
        function = getattr(served, method.name)
        assert inspect.iscoroutinefunction(function)
        assert inspect.getdoc(function), method.name
        for annotation in inspect.getfullargspec(
                function).annotations.values():
            assert annotation in (bool, int, float, str, list, dict), \
                (method.name, annotation)


def signature_of(path, name):
    return str(inspect.signature(getattr(SERVED[path], name)))


def test_annotations_follow_the_declarations():
    keithley, agilent, thorlabs = PYMEASURE_CLASSES
    # A value map of booleans; a discrete set of strings; %g in a range.
    assert signature_of(keithley, "set_source_enabled") == \
        "(self, value: bool)"
    assert signature_of(agilent, "set_shape") == "(self, value: str)"
    assert signature_of(agilent, "ch_2_set_frequency") == \
        "(self, value: float)"
    assert signature_of(keithley, "get_source_voltage") == "(self) -> float"
    # %d, with whole bounds.
    assert signature_of(keithley, "set_buffer_points") == \
        "(self, value: int)"
    assert signature_of(thorlabs, "set_LDCCurrent") == \
        "(self, value: float)"


def test_read_only_and_write_only_controls_have_their_half():
    served = SERVED[PYMEASURE_CLASSES[0]]
    assert hasattr(served, "get_current") and \
        not hasattr(served, "set_current")  # a measurement
    controls = {control.name: control for control in
                pymeasure_classes.controls(served.instrument_class)}
    settings = [name for name, control in controls.items()
                if control.writable and not control.readable]
    for name in settings:
        assert hasattr(served, f"set_{name}") and \
            not hasattr(served, f"get_{name}")


def test_channels_take_their_prefix():
    served = SERVED[PYMEASURE_CLASSES[1]]
    for channel in ("ch_1", "ch_2"):
        assert hasattr(served, f"{channel}_set_frequency")
        assert hasattr(served, f"{channel}_get_output")


def test_deprecated_members_are_left_out():
    served = SERVED[PYMEASURE_CLASSES[0]]
    assert not hasattr(served, "set_auto_zero")  # deprecated for another
    assert hasattr(served, "set_auto_zero_enabled")
    # Deprecating some of its values keeps the control.
    assert hasattr(served, "set_output_off_state")


def instrument_with_clashes():
    from pymeasure.instruments import Instrument

    class Clashing(Instrument):
        """An instrument with members named like the NDSP's own."""

        def ping(self):
            """Ping the instrument's network."""
            return "pong"

        def ramp(self, to: float, step=lambda x: x / 2, *, fast=False):
            """Ramp to ``to``."""
            return step(to), fast

    return Clashing


def test_a_clash_is_renamed_and_an_unsendable_default_left_out():
    methods = {method.name: method for method in
               pymeasure_driver.rpc_methods(instrument_with_clashes())}
    assert "ping" not in methods
    assert "renamed" in methods["instrument_ping"].doc
    assert str(methods["ramp"].signature) == \
        "(self, to: float, *, fast=False)"


def test_a_left_out_parameter_keeps_its_own_default():
    instrument_class = instrument_with_clashes()
    [ramp] = [method for method in pymeasure_driver.rpc_methods(
        instrument_class) if method.name == "ramp"]
    positional, keywords = pymeasure_driver.call_arguments(
        ramp.signature, object(), 3.0, fast=True)
    assert (positional, keywords) == ([], {"to": 3.0, "fast": True})
    instrument = instrument_class.__new__(instrument_class)
    assert instrument.ramp(*positional, **keywords) == (1.5, True)


@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_the_class_alone_gives_what_an_instance_has(path):
    """Every channel and member served is there on an instance."""
    instrument_class = SERVED[path].instrument_class
    instrument = pymeasure_fake.simulated_instrument(instrument_class)
    for method in pymeasure_driver.rpc_methods(instrument_class):
        target = (instrument if method.channel is None
                  else getattr(instrument, method.channel))
        assert hasattr(type(target), method.member), method.name


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "client is built on sipyco's command-line helpers")
@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_the_clients_arguments_are_typed_by_the_annotations(path):
    from ndsp_runtime import client

    parser = client.argparser(SERVED[path], "hello", "Hello", 1234)
    commands = next(action for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))
    setters = [method.name for method in pymeasure_driver.rpc_methods(
        SERVED[path].instrument_class) if method.kind == "set"]
    assert setters and set(setters) <= set(commands.choices)
    for name in setters:
        annotation = inspect.signature(
            getattr(SERVED[path], name)).parameters["value"].annotation
        [value] = [action for action in commands.choices[name]._actions
                   if action.dest == "argument:value"]
        if annotation in (int, float):
            assert value.type is annotation, name
        elif annotation is bool:
            assert value.type is not None and value.type("no") is False


def test_results_are_plain():
    numpy = pytest.importorskip("numpy")
    pandas = pytest.importorskip("pandas")
    assert pymeasure_driver.plain(numpy.float64(1.5)) == 1.5
    assert type(pymeasure_driver.plain(numpy.int32(3))) is int
    frame = pandas.DataFrame({"v": [1.0, 2.0]})
    assert pymeasure_driver.plain(frame) == {"v": [1.0, 2.0]}
    assert pymeasure_driver.plain((numpy.float32(2), "a")) == [2.0, "a"]
    array = numpy.arange(3.0)
    assert pymeasure_driver.plain(array) is array


# --- the simulated instrument --------------------------------------------

def opened(path, **options):
    """The served driver on its simulation, as the controller opens it,
    with a loop to call it on."""
    loop = asyncio.new_event_loop()
    options = argparse.Namespace(**dict(dict(simulation_yaml=None),
                                        **options))
    driver = loop.run_until_complete(SERVED[path].open(None, options))
    return loop, driver


@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_every_control_the_fake_holds_reads_back_what_was_set(path):
    loop, driver = opened(path)
    trips = pymeasure_fake.round_trips(driver.instrument_class)
    assert len(trips) >= 4
    try:
        for setter, getter, value, refused in trips:
            loop.run_until_complete(getattr(driver, setter)(value))
            assert loop.run_until_complete(getattr(driver, getter)()) == \
                value, getter
            if refused is not None:
                with pytest.raises(ValueError):
                    loop.run_until_complete(getattr(driver, setter)(refused))
                # Refused before any write: the value set stays.
                assert loop.run_until_complete(
                    getattr(driver, getter)()) == value, getter
    finally:
        loop.run_until_complete(driver.close())
        loop.close()


def test_channels_hold_their_own_values():
    loop, driver = opened(PYMEASURE_CLASSES[1])
    call = loop.run_until_complete
    call(driver.ch_1_set_frequency(1000.0))
    call(driver.ch_2_set_frequency(2000.0))
    assert call(driver.ch_1_get_frequency()) == 1000.0
    assert call(driver.ch_2_get_frequency()) == 2000.0
    call(driver.close())
    loop.close()


def test_an_unknown_query_is_an_error_naming_it_and_leaves_no_reply():
    adapter = pymeasure_fake.fake_adapter(
        SERVED[PYMEASURE_CLASSES[0]].instrument_class)
    with pytest.raises(LookupError, match="'MEAS:NOTHING\\?'.*yaml"):
        adapter.write("MEAS:NOTHING?")
    with pytest.raises(LookupError, match="nothing was queried"):
        adapter.read()


def test_what_is_stored_is_bounded():
    instrument_class = SERVED[PYMEASURE_CLASSES[0]].instrument_class
    control = next(control for control in pymeasure_classes.controls(
        instrument_class) if control.name == "source_voltage")
    adapter = pymeasure_fake.fake_adapter(instrument_class)
    adapter.write(control.set_command % 1 + "9" * 100_000)
    adapter.write(control.get_command)
    assert len(adapter.read()) == pymeasure_fake.MAX_ANSWER


def test_a_starting_yaml_runs_in_pyvisa_sim(tmp_path):
    pytest.importorskip("pyvisa_sim", reason="pyvisa-sim is not installed")
    path = PYMEASURE_CLASSES[2]
    instrument_class = SERVED[path].instrument_class
    yaml_file = tmp_path / "instrument.yaml"
    yaml_file.write_text(pymeasure_fake.yaml_for(instrument_class))
    loop, driver = opened(path, simulation_yaml=str(yaml_file))
    call = loop.run_until_complete
    try:
        call(driver.set_LDCCurrent(0.25))
        assert call(driver.get_LDCCurrent()) == 0.25
    finally:
        call(driver.close())
        loop.close()


def test_an_unreadable_yaml_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "none.yaml"
    with pytest.raises(OSError, match=f"--simulation-yaml {missing}"):
        pymeasure_fake.simulated_instrument(
            SERVED[PYMEASURE_CLASSES[0]].instrument_class, str(missing))


# --- the export -----------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each class written out, in a package beside a copy of the
    runtime, as a user's driver.py would be."""
    folder = tmp_path_factory.mktemp("exported")
    package = folder / "exported"
    (package / "ndsp_runtime").mkdir(parents=True)
    for module in (RUNTIME_PARENT / "ndsp_runtime").glob("*.py"):
        (package / "ndsp_runtime" / module.name).write_bytes(
            module.read_bytes())
    (package / "__init__.py").write_text("")
    for path in PYMEASURE_CLASSES:
        name = path.rpartition(".")[2]
        (package / f"driver_{name}.py").write_text(
            pymeasure_export.driver_code(path))
    return folder


def test_the_export_is_flake8_clean(exported):
    result = run_python("-m", "flake8", "--isolated", "--max-line-length",
                        "79", "exported", "--exclude", "ndsp_runtime",
                        cwd=exported)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", PYMEASURE_CLASSES, ids=IDS)
def test_the_export_serves_the_same_methods(exported, path, monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(str(exported))
    name = path.rpartition(".")[2]
    module = importlib.import_module(f"exported.driver_{name}")
    written, served = getattr(module, name), SERVED[path]
    methods = pymeasure_driver.rpc_methods(served.instrument_class)
    for method in methods:
        function = getattr(written, method.name)
        assert inspect.signature(function) == inspect.signature(
            getattr(served, method.name)), method.name
        # The same words: the export wraps lines within 79 columns.
        assert inspect.getdoc(function).split() == method.doc.split(), \
            method.name
    public = {name for name, member in vars(written).items()
              if inspect.iscoroutinefunction(member)}
    assert public == {method.name for method in methods}


def test_the_exported_driver_runs(exported, monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(str(exported))
    module = importlib.import_module("exported.driver_Agilent33500")
    loop = asyncio.new_event_loop()
    call = loop.run_until_complete
    driver = call(module.Agilent33500.open(
        None, argparse.Namespace(simulation_yaml=None)))
    call(driver.ch_2_set_frequency(1500.0))
    assert call(driver.ch_2_get_frequency()) == 1500.0
    with pytest.raises(ValueError):
        call(driver.set_shape("NOT_A_SHAPE"))
    assert call(driver.ask("*IDN?", query_delay=0)).startswith("Simulated")
    call(driver.close())
    loop.close()


def test_a_bad_class_path_is_one_line_and_exit_1():
    result = run_python("-m", "ndsp_runtime.pymeasure_export",
                        "pymeasure.instruments.nowhere.Thing",
                        cwd=RUNTIME_PARENT)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "pymeasure_export: error: No module named "
        "'pymeasure.instruments.nowhere'"]


# --- served over the real sipyco RPC ---------------------------------------

CONTROLLER = """
import sys
from ndsp_runtime.controller import Controller
from ndsp_runtime.pymeasure_driver import served_class
Controller("hello", "Hello", 0, driver=served_class(sys.argv[1])).main(
    sys.argv[2:])
"""


@pytest.fixture(scope="module")
def controller():
    """The served Agilent33500 in --simulation, in a process of its own."""
    if not HAS_SIPYCO:
        pytest.skip("sipyco is not installed: this test serves the class "
                    "over the real sipyco RPC")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, PYMEASURE_CLASSES[1],
         "--simulation", "--no-localhost-bind", "--bind", "127.0.0.1",
         "-p", str(port)], cwd=RUNTIME_PARENT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    yield port, process
    if process.poll() is None:
        process.kill()
    process.communicate()


def client(port):
    from sipyco.pc_rpc import Client

    deadline = time.monotonic() + 30
    while True:
        try:
            return Client("127.0.0.1", port, "hello", timeout=10)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_over_rpc_methods_values_errors_ping_and_terminate(controller):
    """Every method listed with its docstring; a value set is read back;
    a refused one is the caller's ValueError; ping() answers within 50 ms
    while a 2-second call runs; terminate ends it with exit code 0."""
    import threading

    port, process = controller
    first, second = client(port), client(port)
    try:
        listed = first.get_rpc_method_list()["methods"]
        served = SERVED[PYMEASURE_CLASSES[1]]
        names = {method.name for method in pymeasure_driver.rpc_methods(
            served.instrument_class)}
        assert names <= set(listed)
        assert all(docstring for _, docstring in listed.values())
        first.ch_2_set_frequency(1500.0)
        assert first.ch_2_get_frequency() == 1500.0
        with pytest.raises(Exception) as refused:
            first.set_shape("NOT_A_SHAPE")
        assert "ValueError" in f"{type(refused.value).__name__} " \
            f"{refused.value}"
        slow = threading.Thread(target=first.ask, args=("*IDN?", 2.0))
        slow.start()
        time.sleep(0.2)  # the call is running in the worker
        answered = []
        while slow.is_alive():
            start = time.perf_counter()
            assert second.ping() is True
            answered.append(time.perf_counter() - start)
            time.sleep(0.1)
        slow.join()
        assert len(answered) >= 10
        assert max(answered) < 0.05, max(answered)
        second.terminate()
    finally:
        first.close_rpc()
        second.close_rpc()
    assert process.wait(10) == 0, process.stderr.read()
