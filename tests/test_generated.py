"""The expensive checks, on a covering subset: generated test suites,
packaging, and the device_db entry under a real artiq_ctlmgr."""

import asyncio
import importlib.util
import os
import re
import runpy
import socket
import subprocess
import threading
import time
import zipfile

import pytest

from conftest import COVERING, HAS_SIPYCO, combination_id, run_python

HAS_COMTOOLS = importlib.util.find_spec("artiq_comtools") is not None


@pytest.mark.parametrize("answers", COVERING, ids=combination_id)
def test_generated_test_suite_passes(render, answers):
    result = run_python("-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        cwd=render(**answers))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if HAS_SIPYCO and HAS_COMTOOLS:
        assert "skipped" not in summary, result.stdout
    else:
        # Every skip says why: the missing library is named.
        skips = [line for line in result.stdout.splitlines()
                 if line.startswith("SKIPPED")]
        assert skips, result.stdout
        assert all("sipyco" in line or "artiq-comtools" in line
                   for line in skips), skips


@pytest.fixture(scope="module")
def installed(render, tmp_path_factory):
    """The client variant built into a wheel and installed in a folder."""
    project = render(**COVERING[1])
    dist = tmp_path_factory.mktemp("dist")
    build = run_python("-m", "pip", "wheel", "--no-deps", "-q", "-w",
                       str(dist), str(project), timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = dist.glob("*.whl")
    target = tmp_path_factory.mktemp("target")
    install = run_python("-m", "pip", "install", "--no-deps", "-q",
                         "--target", str(target), str(wheel), timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return wheel, target


def test_wheel_holds_the_package_scripts_and_metadata(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("hello-0.1.0.dist-info/METADATA").decode()
        entry_points = archive.read(
            "hello-0.1.0.dist-info/entry_points.txt").decode()
    assert {"hello/__init__.py", "hello/driver.py", "hello/aqctl_hello.py",
            "hello/aqcli_hello.py", "hello-0.1.0.dist-info/licenses/LICENSE",
            } <= names
    assert not [name for name in names if name.startswith("tests/")]
    assert "Requires-Dist: sipyco\n" in metadata
    assert "License-Expression: LGPL-3.0-or-later\n" in metadata
    assert "aqctl_hello = hello.aqctl_hello:main" in entry_points
    assert "aqcli_hello = hello.aqcli_hello:main" in entry_points


def script_environment(target):
    environment = dict(os.environ)
    environment["PATH"] = f"{target / 'bin'}{os.pathsep}{environment['PATH']}"
    environment["PYTHONPATH"] = str(target)
    return environment


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "console scripts import it")
@pytest.mark.parametrize("script", ["aqctl_hello", "aqcli_hello"])
def test_console_scripts_run(installed, script):
    _, target = installed
    result = subprocess.run([script, "--help"], capture_output=True,
                            text=True, env=script_environment(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script} ")


def loopback_address():
    """The entry's own "::1" where this host has IPv6, else 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return "::1"
    except OSError:
        return "127.0.0.1"


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: "
                    "this test serves the controller to sipyco_rpctool")
def test_sipyco_rpctool_lists_calls_and_terminates(installed, tmp_path):
    _, target = installed
    port = str(free_port())
    controller = subprocess.Popen(
        ["aqctl_hello", "--simulation", "--no-localhost-bind",
         "--bind", "127.0.0.1", "-p", port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=script_environment(target))
    try:
        assert wait_for(lambda: controller_answers("127.0.0.1", int(port)))

        def rpctool(*arguments):
            result = run_python("-m", "sipyco.sipyco_rpctool", "127.0.0.1",
                                port, *arguments)
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert rpctool("list-targets") == \
            "Target(s):   hello\nDescription: Hello\n"
        methods = rpctool("list-methods")
        for signature in ("message(self, msg)", "ping(self)", "close(self)",
                          "terminate(self)"):
            assert f"\n{signature}\n    " in methods, methods
        assert "Print the text ``msg`` as the device would" in methods
        assert rpctool("call", "message", '"from rpctool"') == ""
        assert rpctool("call", "ping") == "True\n"
        rpctool("call", "terminate")
        stdout, stderr = controller.communicate(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
    assert controller.returncode == 0, stderr
    assert "[simulation] message: from rpctool" in stdout


class DeviceDBPublisher:
    """What artiq_master publishes to artiq_ctlmgr: the device_db, through
    sipyco's own Publisher, served from a thread."""

    def __init__(self, host, device_db):
        from sipyco.sync_struct import Notifier, Publisher

        self.loop = asyncio.new_event_loop()
        self.publisher = Publisher({"devices": Notifier(device_db)})
        self.port = free_port()
        self.loop.run_until_complete(self.publisher.start(host, self.port))
        self.thread = threading.Thread(target=self.loop.run_forever)
        self.thread.start()

    def stop(self):
        asyncio.run_coroutine_threadsafe(
            self.publisher.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def controller_answers(host, port):
    from sipyco.pc_rpc import Client

    try:
        client = Client(host, port, "hello", timeout=5)
    except OSError:
        return False
    try:
        return client.ping()
    finally:
        client.close_rpc()


@pytest.mark.skipif(not (HAS_SIPYCO and HAS_COMTOOLS), reason="sipyco or "
                    "artiq-comtools is not installed: this test runs the real "
                    "artiq_ctlmgr")
def test_artiq_ctlmgr_starts_pings_and_stops_the_installed_controller(
        installed, render, tmp_path):
    from sipyco.pc_rpc import Client

    _, target = installed
    entry = runpy.run_path(
        str(render(**COVERING[1]) / "device_db.py"))["device_db"]["hello"]
    assert entry["host"] == "::1"
    host = loopback_address()
    entry.update(host=host, port=free_port(), ping_timer=1)
    master = DeviceDBPublisher(host, {"hello": entry})
    control_port = free_port()
    log = tmp_path / "ctlmgr.log"
    try:
        with open(log, "w") as log_file:
            ctlmgr = subprocess.Popen(
                ["artiq_ctlmgr", "-vv", "-s", host,
                 "--port-notify", str(master.port),
                 "--port-logging", str(free_port()),
                 "--bind", "127.0.0.1", "--no-localhost-bind",
                 "--port-control", str(control_port)],
                stdout=log_file, stderr=subprocess.STDOUT,
                env=script_environment(target))
        try:
            assert wait_for(lambda: controller_answers(host, entry["port"])), \
                log.read_text()
            assert wait_for(
                lambda: log.read_text().count("pinging controller hello") >= 2)
            ctlmgr_control = Client("127.0.0.1", control_port, "ctlmgr")
            ctlmgr_control.terminate()
            ctlmgr_control.close_rpc()
            assert ctlmgr.wait(60) == 0, log.read_text()
        finally:
            if ctlmgr.poll() is None:
                ctlmgr.kill()
    finally:
        master.stop()
    text = log.read_text()
    assert "Controller hello terminated" in text, text
    assert "ping failed" not in text, text
    assert text.count("Starting controller hello") == 1, text
    assert not controller_answers(host, entry["port"])
