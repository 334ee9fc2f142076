"""The porting promise: a generated project whose driver, fake
instrument and device tests are replaced by another device's (those of
tests/ported) passes its contract tests, its post-generation checks and
its artiq_ctlmgr test, and its client offers the new methods, with no
other file changed."""

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (HAS_SIPYCO, TEMPLATE, answers_for, combination_id,
                      render_hook, run_python)
from installed import (HAS_ARTIQ, needed,
                       assert_passed_or_skipped_for_a_reason,
                       controller_answers, free_port, install_and_test,
                       wait_for)

PORTED = TEMPLATE / "tests" / "ported"
# One port installed, with every add-on that remote execution allows; a
# sync one is checked in place, more cheaply.
PORTS = [{"transport": "serial", "driver_api": "asyncio",
          "include_client": True, "include_mediator": True,
          "remote_exec": True}]
# What a port leaves as it was generated: the generic files (the runtime
# besides), and the user's files that this port needs not change.
GENERIC_FILES = ["hello/aqctl_hello.py", "hello/aqcli_hello.py",
                 "hello/mediator.py", "device_db.py",
                 "tests/conftest.py", "tests/calls.py",
                 "tests/certificates.py", "tests/instruments.py",
                 "tests/test_contract_bulk.py",
                 "tests/test_contract_driver.py",
                 "tests/test_contract_controller.py",
                 "tests/test_contract_client.py",
                 "tests/test_contract_ctlmgr.py",
                 "tests/test_contract_mediator.py",
                 "tests/test_contract_remote_exec.py",
                 "tests/test_contract_ssl.py"]


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
    shutil.copy(PORTED / "fake_device.py", package / "fake_device.py")
    shutil.copy(PORTED / "device_tests.py",
                ported / "tests" / "test_device.py")
    # The example's waveform tests: a device without one has none.
    (ported / "tests" / "test_device_bulk.py").unlink(missing_ok=True)
    return ported


def post_gen_checks(project, answers, folder):
    """The post-generation hook, as cookiecutter runs it in the project."""
    hook = render_hook("post_gen_project", answers_for(**answers),
                       folder / "post_gen_project.py")
    return run_python(str(hook), cwd=project)


@pytest.fixture(scope="module")
def installations(render, tmp_path_factory):
    """Every port: generated, ported, checked by the post-generation hook,
    installed; its suite, artiq_ctlmgr test and client session run."""
    # Rendered here, one at a time: cookiecutter changes the working folder.
    projects = {port_id(answers): (answers, render(**answers))
                for answers in PORTS}

    def install(key):
        answers, project = projects[key]
        folder = tmp_path_factory.mktemp(key)
        project = port(project, answers, folder)
        checks = post_gen_checks(project, answers, folder)
        # Its dependencies (the serial transport's, the client's) are
        # resolved in test_generated.py's.
        installed = install_and_test(answers, project, folder,
                                     tmp_path_factory, resolve=False)
        installed.checks = checks
        if HAS_SIPYCO:
            installed.session = client_session(installed)
        return key, installed

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(install, projects))


@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_the_ported_suite_passes(installations, answers):
    installed = installations[port_id(answers)]
    assert_passed_or_skipped_for_a_reason(installed.suite, *needed(answers))


@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_the_ported_entry_runs_under_artiq_ctlmgr(installations, answers):
    result = installations[port_id(answers)].ctlmgr
    if not (HAS_SIPYCO and HAS_ARTIQ):
        assert result.returncode == 5, result.stdout + result.stderr
        return
    assert_passed_or_skipped_for_a_reason(result, "sipyco")


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
                "127.0.0.1", str(port), "call", "-t", "hello", "terminate")
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
    runtime = sorted(str(path.relative_to(project)) for path in
                     (project / "hello" / "ndsp_runtime").rglob("*.py"))
    assert runtime, "the generic runtime is missing"
    for path in GENERIC_FILES + runtime:
        assert (ported / path).exists() == (project / path).exists(), path
        if (project / path).exists():
            assert (ported / path).read_bytes() == \
                (project / path).read_bytes(), path
    assert (ported / "hello" / "driver.py").read_bytes() != \
        (project / "hello" / "driver.py").read_bytes()


@pytest.mark.parametrize("answers", PORTS, ids=port_id)
def test_a_port_passes_the_post_generation_checks(installations, answers):
    checks = installations[port_id(answers)].checks
    assert checks.returncode == 0, checks.stdout + checks.stderr
    assert "flake8: no problems." in checks.stdout
    if HAS_SIPYCO:
        assert "documented every method" in checks.stdout, checks.stdout
        assert "exited cleanly on terminate" in checks.stdout


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


def test_a_sync_port_passes_flake8_and_its_tests_in_place(render, tmp_path):
    """The sync driver ported onto a sync project: flake8, its device
    tests and the driver's contract, run from its folder (the installed
    port runs the others, the client's among them)."""
    answers = {"transport": "tcp", "driver_api": "sync",
               "include_client": True}
    project = port(render(**answers), answers, tmp_path)
    result = run_python("-m", "flake8", ".", cwd=project)
    assert result.returncode == 0, result.stdout
    result = run_python("-m", "pytest", "-p", "no:cacheprovider",
                        "tests/test_device.py",
                        "tests/test_contract_driver.py", cwd=project,
                        timeout=300)
    assert_passed_or_skipped_for_a_reason(result, "sipyco")


# A driver whose open() builds a product's class, with a method of its own.
PRODUCT_DRIVER = '''

class HelloPro(Hello):
    """The same console, with one more command."""

    def beep(self):
        """Sound the console's bell."""
        self._transport.write_line("\\\\a")


def _open_the_product(cls, transport, options):
    return HelloPro(transport)


Hello.open = classmethod(_open_the_product)
'''


# The contract tests that read the served class.
CLASS_TESTS = ("listed_with_its_docstring or wrong_call or "
               "does_not_answer_is_not_served or bulk_target or "
               "only_public")


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "contract tests call the controller over sipyco RPC")
def test_the_contract_follows_the_class_open_builds(render, tmp_path):
    """A product's class, built by open(), is what the controller serves
    and the contract tests check: they pass unchanged."""
    project = shutil.copytree(render(), tmp_path / "hello")
    driver = project / "hello" / "driver.py"
    driver.write_text(driver.read_text() + PRODUCT_DRIVER)
    result = run_python("-m", "pytest", "-p", "no:cacheprovider",
                        "tests/test_contract_controller.py",
                        "tests/test_contract_bulk.py", "-k", CLASS_TESTS,
                        cwd=project, timeout=300)
    assert_passed_or_skipped_for_a_reason(result, "sipyco")
    assert "deselected" in result.stdout.splitlines()[-1]
