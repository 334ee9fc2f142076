{%- set name = cookiecutter.device_name -%}
"""Contract: the controller, over the real sipyco RPC, started as
artiq_ctlmgr does. These tests name no method of the example device: they
must pass unchanged once the driver is yours."""

import inspect
import pathlib
import runpy
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (NAME, SIPYCO_MISSING, RawClient, listening_addresses,
                      public_methods, raw_connection, run_controller,
                      served_class)

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
from sipyco import pyon

from {{ name }}.aqctl_{{ name }} import (
    CONTROLLER, DEFAULT_PORT, TITLE, get_argparser, main)

# The class served: driver.py's, or the one its open() builds.
Driver = served_class()

DEVICE_DB = pathlib.Path(__file__).parent.parent / "device_db.py"
# What real devices need, and --simulation must not import.
TRANSPORT_MODULES = {{ transports.values() | map(attribute="modules") | sum(start=[]) | reject("in", driver_sources[cookiecutter.driver_source].imports) | list | tojson }}


def test_no_device_is_a_usage_error_naming_both(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", [f"aqctl_{NAME}"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 2
    stderr = capsys.readouterr().err
    assert "-d/--device" in stderr
    assert "--simulation" in stderr


def test_simulation_wins_over_a_device_and_serves_the_loopback(
        start_controller, unopenable_device):
    """--simulation appended to a command wins, as the ARTIQ manual says.
    With no bind option: 127.0.0.1 and ::1, as sipyco binds; on a host
    without IPv6, where sipyco alone would stop with Errno 99, 127.0.0.1
    alone."""
    controller = start_controller("-d", unopenable_device, "--simulation",
                                  bind=())
    assert controller.ping() is True
    # Loopback only: no other host reaches it unless --bind says so.
    addresses = listening_addresses(controller.port)
    if addresses is not None:
        assert addresses and addresses <= {"127.0.0.1", "::1"}, addresses
    code, _, stderr = controller.terminate_over_rpc()
    assert code == 0, stderr


def test_unopenable_device_gives_one_error_line(unopenable_device):
    result = run_controller("-d", unopenable_device)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"aqctl_{NAME}: error: cannot open device {unopenable_device!r}: ")


@pytest.mark.parametrize("answer", [False, None, "ok"])
def test_a_device_that_does_not_answer_is_not_served(monkeypatch, capsys,
                                                     answer):
    """ping() must be True before the controller serves: else one error
    line, exit code 1, and the device is closed."""
    closed = []

    def ping(self):
        return answer

    def close(self):
        closed.append(self)

    if inspect.iscoroutinefunction(Driver.ping):
        monkeypatch.setattr(Driver, "ping", as_coroutine(ping))
        monkeypatch.setattr(Driver, "close", as_coroutine(close))
    else:
        monkeypatch.setattr(Driver, "ping", ping)
        monkeypatch.setattr(Driver, "close", close)

    def serve(*args):
        pytest.fail("the controller served a device that does not answer")

    monkeypatch.setattr(CONTROLLER, "serve", serve)
    monkeypatch.setattr("sys.argv", [f"aqctl_{NAME}", "--simulation"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (f"aqctl_{NAME}: error: cannot open the simulated "
                    f"device: it does not answer: ping() returned "
                    f"{answer!r}")
    assert len(closed) == 1


def as_coroutine(function):
    async def coroutine(*args):
        return function(*args)
    return coroutine


def test_device_options_are_in_the_help():
    text = get_argparser().format_help()
    assert "device options:" in text
    assert "--timeout TIMEOUT" in text


def test_target_and_description(served):
    client = served.client(target=None)
    try:
        targets, description = client.get_rpc_id()
    finally:
        client.close_rpc()
    assert targets[0] == NAME  # the one artiq_ctlmgr pings
    assert description == TITLE


def test_every_driver_method_is_listed_with_its_docstring(served):
    client = served.client()
    try:
        methods = client.get_rpc_method_list()["methods"]
    finally:
        client.close_rpc()
    assert set(methods) == set(public_methods(Driver)) | {"terminate"}
    for name in public_methods(Driver):
        _, docstring = methods[name]
        assert docstring, f"{name}() has no docstring for sipyco_rpctool"


def test_the_simulation_answers_ping(served):
    assert served.ping() is True


def too_many_arguments(method):
    """Positional arguments that no call of ``method`` binds: one more
    than it takes, or None when it takes any number."""
    parameters = list(inspect.signature(method).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return [0] * (len(parameters) + 1)


def test_a_wrong_call_is_an_error_and_the_controller_keeps_serving(served):
    """Each method called with one argument too many: the caller gets a
    TypeError, and the controller answers the next call."""
    client = served.client()
    try:
        for name, method in public_methods(Driver).items():
            arguments = too_many_arguments(method)
            if arguments is None:
                continue
            with pytest.raises(TypeError):
                getattr(client, name)(*arguments)
            assert client.ping() is True, f"after {name}()"
    finally:
        client.close_rpc()


def test_the_simulation_imports_no_transport_library(monkeypatch, call):
    for module in TRANSPORT_MODULES:
        monkeypatch.setitem(sys.modules, module, None)  # import fails
    args = get_argparser().parse_args(["-d", "nowhere", "--simulation"])
    driver = call(CONTROLLER.open_driver(args))
    try:
        assert call(driver.ping()) is True
    finally:
        call(driver.close())


# Seconds a controller may take to stop: artiq_ctlmgr waits, then kills.
STOP_TIMEOUT = 2.0


def test_garbage_on_the_socket_leaves_the_controller_serving(served):
    with raw_connection(served.port) as connection:
        connection.sendall(b"\x00\xff not sipyco at all\n" * 4)
    assert served.ping() is True


def test_a_client_gone_mid_call_leaves_the_controller_serving(served):
    call = dict(action="call", name="ping", args=[], kwargs={})
    with raw_connection(served.port) as connection:
        replies = connection.makefile("rb")
        connection.sendall(b"ARTIQ pc_rpc\n")
        replies.readline()  # the targets
        connection.sendall(NAME.encode() + b"\n")
        replies.readline()  # the methods
        connection.sendall(pyon.encode(call).encode() + b"\n")
    # Gone before the reply.
    assert served.ping() is True


def test_eight_clients_at_once_each_get_every_reply(served):
    def a_hundred_calls(_):
        client = served.client()
        try:
            return [client.ping() for _ in range(100)]
        finally:
            client.close_rpc()

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(a_hundred_calls, range(8)))
    assert replies == [[True] * 100] * 8


# What pyon v1, which is eval, would run: a file made, a frozen controller.
def eval_requests(marker):
    return [f"__import__('pathlib').Path({str(marker)!r}).touch()".encode(),
            b"10**10**7"]


def test_a_pyon_v1_client_is_refused_then_terminate_closes_the_device(
        start_controller, tmp_path):
    """sipyco decodes the requests of a client that does not announce
    pyon_v2 with eval: the controller refuses it, in one log line, and
    goes on serving; terminate, as artiq_ctlmgr stops it first, then
    closes the device and ends it with exit code 0 within 2 s. (SIGTERM,
    SIGINT and SIGHUP stop it as terminate does: the runtime's, tested
    with it; artiq_ctlmgr's SIGTERM in tests/test_contract_ctlmgr.py.)"""
    controller = start_controller("--simulation", "-v")
    assert controller.ping() is True
    marker = tmp_path / "ran"
    old = RawClient(controller.port, features=(),
                    then=eval_requests(marker))
    try:
        assert old.methods == b"", "a pyon v1 client was served"
    finally:
        old.close()
    # Not frozen by 10**10**7: a ping answers within a second.
    assert controller.ping(timeout=1.0) is True
    assert not marker.exists()
    client = controller.client()
    try:
        client.terminate()
    finally:
        client.close_rpc()
    _, stderr = controller.process.communicate(timeout=STOP_TIMEOUT)
    assert controller.process.returncode == 0, stderr
    assert "the device is closed" in stderr
    refusals = [line for line in stderr.splitlines() if "pyon_v2" in line]
    assert len(refusals) == 1, stderr
    assert "--allow-pyon-v1" in refusals[0]
    assert "Traceback" not in stderr


# Names a request may give that are not the driver's public methods.
NOT_SERVED = ["close", "__setattr__", "__init__", "__class__",
              "__getattribute__", "__reduce_ex__", "_names", "__dict__"]


@pytest.mark.parametrize("name", NOT_SERVED)
def test_only_the_drivers_public_methods_can_be_called(served, name):
    client = RawClient(served.port)
    try:
        reply = client.call(name, "_transport", None)
    finally:
        client.close()
    assert reply["status"] == "failed", reply
    assert reply["exception"]["class"] == "AttributeError"
    assert "is not a method this controller serves" in \
        reply["exception"]["message"]
    assert served.ping() is True


@pytest.mark.parametrize("variant", ["device_db", "with_ssl"])
def test_device_db_entry_starts_this_controller(variant):
    entry = runpy.run_path(str(DEVICE_DB))[variant][NAME]
    assert entry["type"] == "controller"
    assert entry["port"] == DEFAULT_PORT
    # artiq_ctlmgr fills in {port}, {bind} and {ARTIQ_SSL_DIR}, then splits
    # without a shell.
    command = shlex.split(entry["command"].format(
        name=NAME, bind="127.0.0.1", ARTIQ_SSL_DIR="/ssl", **entry))
    assert command[0] == f"aqctl_{NAME}"
    args = get_argparser().parse_args(command[1:])
    assert args.port == entry["port"]
    assert args.bind == ["127.0.0.1"]
    assert args.no_localhost_bind
    assert args.device and not args.simulation
    assert ("simple_ssl_config" in entry) == (variant == "with_ssl")
    if variant == "with_ssl":
        # The controller presents the certificate that artiq_ctlmgr
        # trusts, and trusts the one that artiq_ctlmgr presents.
        ssl = {key: path.format(ARTIQ_SSL_DIR="/ssl")
               for key, path in entry["simple_ssl_config"].items()}
        assert [args.ssl[0], args.ssl[2]] == [ssl["server_cert"],
                                              ssl["client_cert"]]
    else:
        assert args.ssl is None
