"""The expensive checks, on a covering subset: each variant built into a
wheel and installed in a virtual environment as its user installs it; its
console scripts run from there, and its own test suite passes there, the
device_db entry under a real artiq_master and artiq_ctlmgr included."""

import importlib.util
import os
import re
import shutil
import site
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (COVERING, HAS_SIPYCO, TEMPLATE, answers_for,
                      combination_id, render_hook, run_python)
import local_extensions


def importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


HAS_ARTIQ = (importable("artiq_comtools")
             and importable("artiq.frontend.artiq_master"))
# The modules each transport's tests need, beyond pytest.
LIBRARY_MODULES = {"console": [], "tcp": [],
                   "serial": ["serial", "serial_asyncio"],
                   "visa": ["pyvisa", "pyvisa_py", "pyvisa_sim"]}
# What a skip's reason names: the library that is missing.
MISSING_REASONS = ["sipyco", "artiq", "pyserial", "pyvisa"]
# An /etc/hosts where localhost resolves to ::1 first, as on many desktops.
LOCALHOST_IPV6_FIRST = "::1 localhost\n127.0.0.1 localhost\n"


class Installed:
    """A generated project, installed in a virtual environment of its own.

    The environment sees the packages this test run sees (sipyco if any,
    pytest), as one made with --system-site-packages sees the system's.
    """

    def __init__(self, answers, project, folder):
        self.answers = answers
        self.project = project
        self.folder = folder
        self.venv = folder / "venv"
        check(run_python("-m", "venv", "--without-pip", str(self.venv)))
        self.python = self.venv / "bin" / "python"
        [site_packages] = self.venv.glob("lib/python*/site-packages")
        (site_packages / "test-run.pth").write_text(
            "\n".join(site.getsitepackages()) + "\n")
        # With sipyco at hand, pip checks the dependencies as for a user.
        # The wheel is built with this test run's setuptools (>= 77, in
        # requirements-test.txt): no download.
        wanted = ([f"{project}[test]"] if HAS_SIPYCO
                  else ["--no-deps", str(project)])
        check(run_python("-m", "pip", "--python", str(self.python),
                         "install", "-q", "--no-index", "--no-build-isolation",
                         *wanted, timeout=300))
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


def check(result):
    assert result.returncode == 0, result.stdout + result.stderr


# The artiq_ctlmgr tests need ARTIQ's ports, and the entry's, to themselves.
ARTIQ_PORTS = threading.Lock()


# The porting promise: a different device's driver, fake instrument and
# device tests (tests/ported) replace the example's; nothing else changes.
PORTED = TEMPLATE / "tests" / "ported"
PORTS = [{"transport": "tcp", "driver_api": "sync", "include_client": True},
         {"transport": "serial", "driver_api": "asyncio",
          "include_client": True}]
# The project's contract files: a port leaves them as they were generated.
GENERIC_FILES = ["hello/aqctl_hello.py", "hello/aqcli_hello.py",
                 "hello/transport.py", "tests/conftest.py", "tests/calls.py",
                 "tests/test_contract_driver.py",
                 "tests/test_contract_controller.py",
                 "tests/test_contract_client.py",
                 "tests/test_contract_ctlmgr.py", "device_db.py"]


def port_id(answers):
    return "ported-" + combination_id(answers)


def port(project, answers, folder):
    """A copy of ``project`` whose driver, fake instrument and device
    tests are another device's, as its user would port it."""
    ported = folder / "hello"
    shutil.copytree(project, ported)
    package = ported / "hello"
    shutil.copy(PORTED / f"driver_{answers['driver_api']}.py",
                package / "driver.py")
    simulation = (package / "simulation.py").read_text()
    fake = (PORTED / "fake_device.py").read_text()
    start = "\nclass FakeDevice"
    (package / "simulation.py").write_text(
        simulation[:simulation.index(start) + 1]
        + fake[fake.index(start) + 1:])
    shutil.copy(PORTED / "device_tests.py",
                ported / "tests" / "test_device.py")
    return ported


def post_gen_checks(project, answers, folder):
    """The post-generation hook, as cookiecutter runs it in the project."""
    hook = render_hook("post_gen_project", answers_for(**answers),
                       folder / "post_gen_project.py")
    return run_python(str(hook), cwd=project)


@pytest.fixture(scope="module")
def installations(render, tmp_path_factory):
    """Every covering combination, and every port, generated, built and
    installed; then its own test suite run, its artiq_ctlmgr test alone
    (one project at a time), and its controller called with sipyco_rpctool
    (the ports: with its client). Two at a time: the machine has two
    cores."""
    # Rendered here, one at a time: cookiecutter changes the working folder.
    jobs = {port_id(answers): (answers, render(**answers), True)
            for answers in PORTS}
    jobs.update((combination_id(answers), (answers, render(**answers), False))
                for answers in COVERING)

    def install_and_test(key):
        answers, project, ported = jobs[key]
        folder = tmp_path_factory.mktemp(key)
        if ported:
            project = port(project, answers, folder)
            checks = post_gen_checks(project, answers, folder)
        installed = Installed(answers, project, folder)
        installed.suite = installed.pytest(
            "--ignore", "tests/test_contract_ctlmgr.py")
        with ARTIQ_PORTS:
            installed.ctlmgr = installed.pytest(
                "tests/test_contract_ctlmgr.py")
        if ported:
            installed.checks = checks
        if HAS_SIPYCO:
            installed.session = (client_session if ported
                                 else rpctool_session)(installed)
        return key, installed

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(install_and_test, jobs))


@pytest.fixture(params=COVERING, ids=combination_id)
def installed(request, installations):
    return installations[combination_id(request.param)]


# Every installation's key: the covering combinations, then the ports.
INSTALLATIONS = [*map(combination_id, COVERING), *map(port_id, PORTS)]


def test_wheel_holds_the_package_scripts_and_metadata(installed):
    """What pip installed from the wheel it built: files, metadata."""
    names = {line.split(",")[0] for line in
             (installed.dist_info / "RECORD").read_text().splitlines()}
    metadata = (installed.dist_info / "METADATA").read_text()
    entry_points = (installed.dist_info / "entry_points.txt").read_text()
    assert {"hello/__init__.py", "hello/driver.py", "hello/aqctl_hello.py",
            "hello-0.1.0.dist-info/licenses/LICENSE"} <= names
    assert ("hello/aqcli_hello.py" in names) == \
        installed.answers["include_client"]
    assert not [name for name in names if name.startswith("tests/")]
    assert "Requires-Dist: sipyco\n" in metadata
    for library in local_extensions.transport_libraries(
            installed.answers["transport"], installed.answers["driver_api"]):
        assert f"Requires-Dist: {library}\n" in metadata
    assert "License-Expression: LGPL-3.0-or-later\n" in metadata
    for script in installed.scripts():
        assert f"{script} = hello.{script}:main" in entry_points


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "console scripts import it")
def test_console_scripts_run(installed):
    """aqctl_hello runs in the sipyco_rpctool session; the client here."""
    for script in installed.scripts()[1:]:
        result = installed.run(script, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {script} ")


def assert_passed_or_skipped_for_a_reason(result, *libraries):
    """pytest's run passed; what skipped names a missing library."""
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if all(map(importable, libraries)):
        assert "skipped" not in summary, result.stdout
    else:
        skips = [line for line in result.stdout.splitlines()
                 if line.startswith("SKIPPED")]
        assert skips, result.stdout
        assert all(re.search("|".join(MISSING_REASONS), line)
                   for line in skips), skips


@pytest.mark.parametrize("key", INSTALLATIONS)
def test_generated_test_suite_passes(installations, key):
    """`python -m pytest`, as the generated README says: no option added,
    so the project's own configuration must report every skip."""
    installed = installations[key]
    assert_passed_or_skipped_for_a_reason(
        installed.suite, "sipyco",
        *LIBRARY_MODULES[installed.answers["transport"]])


@pytest.mark.parametrize("key", INSTALLATIONS)
def test_artiq_ctlmgr_runs_the_entry(installations, key):
    """The project's own test: its device_db entry under a real
    artiq_master and artiq_ctlmgr."""
    result = installations[key].ctlmgr
    if not (HAS_SIPYCO and HAS_ARTIQ):
        assert result.returncode == 5, result.stdout + result.stderr
        assert re.search("sipyco|artiq", result.stdout), result.stdout
        return
    assert_passed_or_skipped_for_a_reason(result, "sipyco")


def test_skip_reasons_are_shown_without_options(render):
    """Not installed, the project's artiq_ctlmgr test cannot run: pytest,
    given no option, says why."""
    result = run_python("-m", "pytest", "-p", "no:cacheprovider",
                        "tests/test_contract_ctlmgr.py", cwd=render())
    # 5: every test of the module skipped, so none ran.
    assert result.returncode == 5, result.stdout + result.stderr
    assert re.search(r"^SKIPPED \[1\] .*(sipyco|artiq|not on PATH)",
                     result.stdout, re.MULTILINE), result.stdout


def mount_namespaces_work():
    unshare = shutil.which("unshare")
    return bool(unshare) and subprocess.run(
        [unshare, "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not (HAS_SIPYCO and HAS_ARTIQ),
                    reason="sipyco, artiq or artiq-comtools is not "
                    "installed: this test runs the real artiq_ctlmgr")
@pytest.mark.skipif(not mount_namespaces_work(), reason="unshare -m is not "
                    "permitted here: it lends this test its own /etc/hosts")
def test_the_entry_starts_where_localhost_is_ipv6_first(installations,
                                                        tmp_path):
    """The project's artiq_ctlmgr test, where localhost resolves to ::1
    first: /etc/hosts is replaced in a private mount namespace only. The
    entry's host is the same for every combination: one is enough."""
    installed = installations[combination_id(COVERING[0])]
    hosts = tmp_path / "hosts"
    hosts.write_text(LOCALHOST_IPV6_FIRST)
    script = ('mount --bind "$1" /etc/hosts && exec "$2" -m pytest '
              '-p no:cacheprovider tests/test_contract_ctlmgr.py')
    result = installed.run("unshare", "-m", "sh", "-c", script, "sh",
                           str(hosts), str(installed.python),
                           cwd=installed.project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout, result.stdout


def network_namespaces_work():
    """Whether this machine lends a test a network of its own (unshare
    -rn, then ip to bring its loopback up)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    return bool(unshare and ip) and subprocess.run(
        [unshare, "-rn", "ip", "link", "set", "lo", "up"],
        capture_output=True).returncode == 0


# In a network namespace of its own: the loopback up, IPv6 off.
WITHOUT_IPV6 = (
    "ip link set lo up && "
    "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
    "echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6 && "
    'exec "$1" -m pytest -p no:cacheprovider tests/test_contract_ctlmgr.py '
    "tests/test_contract_controller.py -k 'ctlmgr or loopback'")


@pytest.mark.skipif(not (HAS_SIPYCO and HAS_ARTIQ),
                    reason="sipyco, artiq or artiq-comtools is not "
                    "installed: this test runs the real artiq_ctlmgr")
@pytest.mark.skipif(not network_namespaces_work(), reason="unshare -rn is "
                    "not permitted here: it lends this test a network "
                    "without IPv6")
def test_the_controller_starts_on_a_host_without_ipv6(installations):
    """Where ::1 cannot be bound: the controller with no bind option, and
    the device_db entry as written under artiq_ctlmgr. SSL and remote
    execution change the controller's serving: one project with each. A
    network of its own: ARTIQ's ports there are this test's alone."""
    for option in ("ssl", "remote_exec"):
        answers = next(answers for answers in COVERING if answers[option])
        installed = installations[combination_id(answers)]
        result = installed.run("unshare", "-rn", "sh", "-c", WITHOUT_IPV6,
                               "sh", str(installed.python),
                               cwd=installed.project)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 passed" in result.stdout, result.stdout


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def throwaway_certificates(folder):
    """With the openssl command: the options that make the controller and
    a client it trusts use SSL, as (controller's, client's)."""
    for name in ("controller", "client"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-subj", f"/CN={name}", "-keyout", str(folder / f"{name}.key"),
             "-out", str(folder / f"{name}.pem")],
            check=True, capture_output=True)
    return ([str(folder / name) for name in
             ("controller.pem", "controller.key", "client.pem")],
            [str(folder / name) for name in
             ("client.pem", "client.key", "controller.pem")])


def controller_answers(port, ssl_files=None):
    from sipyco.pc_rpc import Client
    from sipyco.tools import SimpleSSLConfig

    try:
        client = Client("127.0.0.1", port, "hello", timeout=5,
                        ssl_config=SimpleSSLConfig(*ssl_files) if ssl_files
                        else None)
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


# What each example device answers to sipyco_rpctool: (arguments, output).
RPCTOOL_CALLS = {
    "console": [(["call", "message", '"from rpctool"'], "")],
    "scpi": [(["call", "identify"],
              "'ndsp-template,simulated instrument,0,1.0'\n"),
             (["call", "set_voltage", "12.5"], ""),
             (["call", "get_voltage"], "12.5\n")],
}


def example_device(answers):
    return "console" if answers["transport"] == "console" else "scpi"


def rpctool_session(installed):
    """The installed controller, started as a device_db command with
    --simulation appended (-d is given, and the simulation wins), called
    with sipyco_rpctool, then terminated: every output, and its own."""
    port = free_port()
    address = local_extensions.EXAMPLE_ADDRESSES[
        installed.answers["transport"]]
    server_ssl, client_ssl = [], []
    if installed.answers["ssl"]:
        server_ssl, client_ssl = throwaway_certificates(installed.folder)
    controller = installed.popen(
        "aqctl_hello", "-d", address, "--simulation",
        "--no-localhost-bind", "--bind", "127.0.0.1", "-p", str(port),
        *(["--ssl", *server_ssl] if server_ssl else []))
    calls = [["list-methods"], ["call", "ping"],
             *(arguments for arguments, _ in
               RPCTOOL_CALLS[example_device(installed.answers)]),
             ["call", "terminate"]]
    outputs = {}
    try:
        if wait_for(lambda: controller_answers(port, client_ssl)):
            for arguments in calls:
                # -t: with remote execution, the controller has two.
                action, *rest = arguments
                outputs[" ".join(arguments)] = installed.run(
                    str(installed.python), "-m", "sipyco.sipyco_rpctool",
                    *(["--ssl", *client_ssl] if client_ssl else []),
                    "127.0.0.1", str(port), action, "-t", "hello", *rest)
        controller.communicate(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
    stdout, stderr = controller.communicate()
    return outputs, controller.returncode, stdout, stderr


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: "
                    "this test serves the controller to sipyco_rpctool")
def test_sipyco_rpctool_lists_calls_and_terminates(installed):
    outputs, code, stdout, stderr = installed.session
    assert outputs, f"the controller never answered:\n{stderr}"
    for call, result in outputs.items():
        assert result.returncode == 0, (call, result.stderr)
    for signature in ("ping(self)", "close(self)", "terminate(self)"):
        assert f"\n{signature}\n    " in outputs["list-methods"].stdout
    assert outputs["call ping"].stdout == "True\n"
    for arguments, output in RPCTOOL_CALLS[example_device(installed.answers)]:
        assert outputs[" ".join(arguments)].stdout == output
    assert code == 0, stderr
    if example_device(installed.answers) == "console":
        assert "[simulation] message: from rpctool" in stdout


# The ported device through its installed client: (command line, exit
# code, what its output holds).
PORTED_CLIENT_CALLS = [
    (["set_attenuation", "2", "12.5"], 0, ""),
    (["get_attenuation", "2"], 0, "12.5\n"),
    (["load_sweep", "1", "2.5", "3", "--dwell", "0.5"], 0, ""),
    (["sweep_length"], 0, "3\n"),
    (["set_rf_enabled", "yes"], 0, ""),
    (["rf_enabled"], 0, "True\n"),
    (["serial_number"], 0, "ATT4-SIM-000123\n"),
    # A parameter named like the client's -p/--port.
    (["select_input", "2"], 0, ""),
    (["selected_input"], 0, "2\n"),
    (["set_attenuation", "two", "1"], 2,
     "argument channel: invalid int value: 'two'"),
    (["get_attenuation", "9"], 1,
     "aqcli_hello: error: get_attenuation: ValueError: channel must be"),
    (["set_voltage", "1"], 2, "invalid choice: 'set_voltage'"),
]


def client_session(installed):
    """The ported project's installed controller in --simulation, called
    through its installed client: each call's result, then terminate."""
    port = free_port()
    controller = installed.popen(
        "aqctl_hello", "--simulation", "--no-localhost-bind",
        "--bind", "127.0.0.1", "-p", str(port))
    results = {}
    try:
        if wait_for(lambda: controller_answers(port)):
            for arguments, _, _ in PORTED_CLIENT_CALLS:
                results[" ".join(arguments)] = installed.run(
                    "aqcli_hello", "-s", "127.0.0.1", "-p", str(port),
                    *arguments)
            results["terminate"] = installed.run(
                str(installed.python), "-m", "sipyco.sipyco_rpctool",
                "127.0.0.1", str(port), "call", "terminate")
        controller.communicate(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
    stdout, stderr = controller.communicate()
    return results, controller.returncode, stderr


@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_a_port_changes_no_generic_file(render, installations, answers):
    project = render(**answers)
    ported = installations[port_id(answers)].project
    for path in GENERIC_FILES:
        assert (ported / path).read_bytes() == (project / path).read_bytes()
    assert (ported / "hello" / "driver.py").read_bytes() != \
        (project / "hello" / "driver.py").read_bytes()


@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_a_port_passes_the_post_generation_checks(installations, answers):
    checks = installations[port_id(answers)].checks
    assert checks.returncode == 0, checks.stdout + checks.stderr
    assert "flake8: no problems." in checks.stdout
    if HAS_SIPYCO:
        assert "documented every method, and exited cleanly" in \
            checks.stdout, checks.stdout


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: "
                    "this test calls a controller through the client")
@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_the_client_offers_the_ported_methods(installations, answers):
    results, code, stderr = installations[port_id(answers)].session
    assert results, f"the controller never answered:\n{stderr}"
    for arguments, exit_code, output in PORTED_CLIENT_CALLS:
        result = results[" ".join(arguments)]
        assert result.returncode == exit_code, (arguments, result.stderr)
        if exit_code == 0:
            assert result.stdout.endswith(output), (arguments, result.stdout)
        else:
            assert output in result.stderr, (arguments, result.stderr)
    assert results["terminate"].returncode == 0
    assert code == 0, stderr
