"""The device_db entry as written, under a real artiq_master and artiq_ctlmgr.

Both run as a user starts them, with their default arguments: the master
in a folder holding this package's device_db.py, artiq_ctlmgr with none,
so that it connects to the master at "localhost" and starts the entries
whose host matches. Only "--simulation" is appended to its command, as the
ARTIQ manual says to run without hardware. Should
another ARTIQ master hold ARTIQ's ports on this machine, this pair moves
to free ports, so that the test never meets a real experiment's master.
On a host without IPv6, where both would stop binding ::1, they listen on
127.0.0.1 alone; the entry is as written all the same.
"""

import importlib.util
import os
import pathlib
import runpy
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import NAME, SIPYCO_MISSING, STARTUP_TIMEOUT, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
from sipyco.pc_rpc import Client


def importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # its parent package is missing
        return False


for module, package in (("artiq_comtools", "artiq-comtools"),
                        ("artiq.frontend.artiq_master", "artiq")):
    if not importable(module):
        pytest.skip(f"{package} is not installed: this test runs the real "
                    "artiq_master and artiq_ctlmgr", allow_module_level=True)
if shutil.which(f"aqctl_{NAME}") is None:
    pytest.skip(f"aqctl_{NAME} is not on PATH: install this package "
                "(pip install -e .) so that artiq_ctlmgr can start it",
                allow_module_level=True)

DEVICE_DB = pathlib.Path(__file__).parent.parent / "device_db.py"
# ARTIQ's defaults: the master's notify, control, logging and broadcast
# ports, and artiq_ctlmgr's control port.
MASTER_PORTS = {"--port-notify": 3250, "--port-control": 3251,
                "--port-logging": 1066, "--port-broadcast": 1067}
CTLMGR_CONTROL_PORT = 3249


def port_is_free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def as_options(ports):
    return [str(item) for option, port in ports.items()
            for item in (option, port)]


def port_options():
    """No options while ARTIQ's ports are free; else free ports for both."""
    if all(map(port_is_free, [*MASTER_PORTS.values(), CTLMGR_CONTROL_PORT])):
        return [], []
    master = {option: free_port() for option in MASTER_PORTS}
    ctlmgr = {"--port-notify": master["--port-notify"],
              "--port-logging": master["--port-logging"],
              "--port-control": free_port()}
    return as_options(master), as_options(ctlmgr)


def loopback_options():
    """None where the host has IPv6; else the IPv4 loopback alone, which
    artiq_master and artiq_ctlmgr need there (they bind ::1 by default)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return []
    except OSError:
        return ["--no-localhost-bind", "--bind", "127.0.0.1"]


def write_simulation_device_db(folder, variant):
    """This package's device_db entry (``variant``: device_db, or its
    with_ssl alternative), with --simulation appended."""
    entry = runpy.run_path(str(DEVICE_DB))[variant][NAME]
    entry = dict(entry, command=entry["command"] + " --simulation")
    device_db = repr({NAME: entry})
    (folder / "device_db.py").write_text(f"device_db = {device_db}\n")
    return entry


def ping(host, port, ssl_config=None):
    """What artiq_ctlmgr asks the controller every 30 s."""
    try:
        client = Client(host, port, NAME, timeout=5, ssl_config=ssl_config)
    except OSError:
        return False
    try:
        return client.ping()
    finally:
        client.close_rpc()


class Program:
    """An ARTIQ program run from this Python, its output in a log file."""

    def __init__(self, module, options, folder, ssl_folder=None):
        """``ssl_folder``: ARTIQ_SSL_DIR, where the entry says the
        certificates are."""
        self.log = folder / (module.rsplit(".", 1)[-1] + ".log")
        environment = dict(os.environ)
        if ssl_folder is not None:
            environment["ARTIQ_SSL_DIR"] = str(ssl_folder)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *options], cwd=folder,
                stdout=log, stderr=subprocess.STDOUT, env=environment)

    def output(self):
        return self.log.read_text()

    def stop(self):
        """Stop it as Ctrl-C or a service manager does; its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def wait_for(condition, failure, *programs):
    deadline = time.monotonic() + 2 * STARTUP_TIMEOUT
    while not condition():
        exited = [p for p in programs if p.process.poll() is not None]
        if exited or time.monotonic() > deadline:
            pytest.fail(failure + "".join(
                f"\n--- {p.log.name}:\n{p.output()}" for p in programs))
        time.sleep(0.1)


@pytest.mark.parametrize("variant", ["device_db", "with_ssl"])
def test_artiq_ctlmgr_starts_and_stops_the_entry_as_written(
        tmp_path, variant):
    ssl_folder = ssl_config = None
    if variant == "with_ssl":
        from certificates import certificates, client_ssl_config

        ssl_folder, ssl_config = certificates(), client_ssl_config()
    master_options, ctlmgr_options = port_options()
    entry = write_simulation_device_db(tmp_path, variant)
    (tmp_path / "repository").mkdir()
    master_options += loopback_options()
    ctlmgr_options += loopback_options()
    master = Program("artiq.frontend.artiq_master", master_options, tmp_path)
    try:
        wait_for(lambda: "now ready" in master.output(),
                 "artiq_master never became ready", master)
        # -v: log each start and stop; it changes nothing else.
        ctlmgr = Program("artiq_comtools.artiq_ctlmgr",
                         ["-v", *ctlmgr_options], tmp_path, ssl_folder)
        try:
            wait_for(lambda: ping(entry["host"], entry["port"], ssl_config),
                     "the controller never answered ping() at "
                     f"{entry['host']}:{entry['port']}", master, ctlmgr)
        finally:
            ctlmgr_code = ctlmgr.stop()
    finally:
        master.stop()
    log = ctlmgr.output()
    assert ctlmgr_code == 0, log
    assert log.count(f"Starting controller {NAME}") == 1, log
    # Terminated through the RPC, or by SIGTERM when the host is a name.
    assert (f"Controller {NAME} terminated" in log
            or f"Controller process {NAME} terminated" in log), log
    assert "Traceback" not in log, log
    assert not ping(entry["host"], entry["port"], ssl_config)
