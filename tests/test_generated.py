"""The expensive checks, on a covering subset: each variant built into a
wheel and installed in a virtual environment as its user installs it; its
console scripts run from there, and its own test suite passes there, the
device_db entry under a real artiq_master and artiq_ctlmgr included."""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from packaging.requirements import Requirement

from conftest import (COVERING, HAS_SIPYCO, PYMEASURE_INSTALLED, YES_NO,
                      combination_id, run_python)
from installed import (HAS_ARTIQ, ci_requirements, expose, importable,
                       needed, assert_passed_or_skipped_for_a_reason,
                       controller_answers, free_port, install_and_test,
                       wait_for)
import ndsp_extensions

# The covering set, each licence on some of its rows: every licence is
# built and checked as published; then one pymeasure NDSP.
LICENSES = ndsp_extensions.OPTIONS["license"]["values"]
ROWS = [dict(answers, license=LICENSES[number % len(LICENSES)])
        for number, answers in enumerate([*COVERING, PYMEASURE_INSTALLED])]


def device_of(answers):
    if answers.get("driver_source") == "pymeasure":
        return "pymeasure"
    return ndsp_extensions.TRANSPORTS[answers["transport"]]["device"]


def address_of(answers):
    """The example address of the device_db entry."""
    source = ndsp_extensions.DRIVER_SOURCES[
        answers.get("driver_source", "example")]
    return source["address"] or ndsp_extensions.TRANSPORTS[
        answers["transport"]]["address"]


# sipyco_rpctool, run on the first row of each example device (the
# controller and its methods change with the device, not with the
# transport: -d gives each device's own address, and --simulation wins).
RPCTOOL_ROWS = list({device_of(answers): answers
                     for answers in reversed(ROWS)}.values())[::-1]
# The artiq_ctlmgr test, on the first row with remote execution and the
# mediator, and the pymeasure row: the entry changes with those two alone
# (each adds entries of its own, beside the controller's), not with the
# transport, the driver_api or the client; each project's test runs the
# entry and its SSL alternative. The first row's, the controller's entry
# alone, runs where localhost is ::1 first
# (test_the_entry_starts_where_localhost_is_ipv6_first).
CTLMGR_ROWS = [next(answers for answers in ROWS if answers["remote_exec"]
                    and answers["include_mediator"]), ROWS[-1]]


def widest_transport():
    """The transport with the most libraries (every other's are among
    them): a project's tests differ with the example device alone, and
    need no transport's library; its dependencies differ with this."""
    return max(ndsp_extensions.TRANSPORTS, key=lambda name: len(
        ndsp_extensions.TRANSPORTS[name]["libraries"]))


# The row installed with only what its own CI workflow installs (this
# Python's copies of it), where those can be lent: sipyco and
# artiq-comtools, which the workflow installs from git, among them.
CI_ROW = next(answers for answers in ROWS
              if answers["transport"] == widest_transport())
CAN_LEND_WHAT_CI_INSTALLS = HAS_SIPYCO and importable("artiq_comtools")


def dependencies(answers):
    return set(ndsp_extensions.project_dependencies(answers))


def fewest_holding_every_dependency(rows):
    """Few rows whose dependencies, together, are every row's: the one
    with the most not yet held first."""
    unheld, chosen = set().union(*map(dependencies, rows)), []
    while unheld:
        chosen.append(max(rows, key=lambda answers: len(
            dependencies(answers) & unheld)))
        unheld -= dependencies(chosen[-1])
    return chosen


# The rows whose dependencies pip resolves, as for a user (a second or so
# each): every requirement that a row names, on one of them; the others'
# wheels are installed alone.
RESOLVED_ROWS = fewest_holding_every_dependency(ROWS)
# An /etc/hosts where localhost resolves to ::1 first, as on many desktops.
LOCALHOST_IPV6_FIRST = "::1 localhost\n127.0.0.1 localhost\n"


@pytest.fixture(scope="module")
def installations(render, tmp_path_factory):
    """Every covering combination, generated, built and installed; its
    own test suite run, its artiq_ctlmgr test alone, and its controller
    called with sipyco_rpctool. Two at a time: the machine has two
    cores."""
    # Rendered here, one at a time: cookiecutter changes the working folder.
    projects = {combination_id(answers): (answers, render(**answers))
                for answers in ROWS}

    def install(key):
        answers, project = projects[key]
        folder = tmp_path_factory.mktemp(key)
        only_ci = answers is CI_ROW and CAN_LEND_WHAT_CI_INSTALLS
        sees = ([expose(ci_requirements(project), folder / "ci-site")]
                if only_ci else None)
        installed = install_and_test(answers, project, folder,
                                     tmp_path_factory,
                                     ctlmgr=answers in CTLMGR_ROWS, sees=sees,
                                     resolve=answers in RESOLVED_ROWS)
        if only_ci:
            installed.flake8 = installed.run(
                str(installed.python), "-m", "flake8", cwd=installed.project)
        if HAS_SIPYCO and answers in RPCTOOL_ROWS:
            installed.session = rpctool_session(installed)
        return key, installed

    def cost(key):
        """The longest first, so that both threads end together: the
        pymeasure NDSP's, then by the add-ons' tests and checks."""
        answers, _ = projects[key]
        return (answers.get("driver_source") == "pymeasure",
                answers in CTLMGR_ROWS, answers in RPCTOOL_ROWS,
                sum(answers[option] for option in YES_NO))

    with ThreadPoolExecutor(2) as pool:
        installations = dict(pool.map(install, sorted(
            projects, key=cost, reverse=True)))
    # twine once for all: it takes a second to start. Wide, so that each
    # file's verdict is one line.
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *(
            str(path) for installed in installations.values()
            for path in (installed.sdist, installed.wheel))],
        capture_output=True, text=True,
        env=dict(os.environ, COLUMNS="1000"))
    for installed in installations.values():
        installed.twine = twine
    return installations


@pytest.fixture(params=ROWS, ids=combination_id)
def installed(request, installations):
    return installations[combination_id(request.param)]


def test_sdist_and_wheel_pass_twine_check_strict(installed):
    output = re.sub(r"\x1b\[[\d;]*m", "",  # twine's colours
                    installed.twine.stdout + installed.twine.stderr)
    assert installed.twine.returncode == 0, output
    for path in (installed.sdist, installed.wheel):
        assert f"Checking {path}: PASSED\n" in output, output


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
    requirements = [line.removeprefix("Requires-Dist: ")
                    for line in metadata.splitlines()
                    if line.startswith("Requires-Dist: ")
                    and "extra ==" not in line]
    assert requirements == [  # as the metadata writes them
        str(Requirement(requirement)) for requirement in
        ndsp_extensions.project_dependencies(installed.answers)]
    assert requirements[0] == "sipyco>=1.10"
    assert f"License-Expression: {installed.answers['license']}\n" in \
        metadata
    for script in installed.scripts():
        assert f"{script} = hello.{script}:main" in entry_points


def test_pip_resolves_every_requirement_on_some_row():
    resolved = set().union(*map(dependencies, RESOLVED_ROWS))
    assert all(dependencies(answers) <= resolved for answers in ROWS)
    assert len(RESOLVED_ROWS) < len(ROWS)


def test_sdist_holds_what_its_tests_and_users_need(installed, render):
    """Every file of the generated project but the CI, git and hosting
    settings: the unpacked sdist is where the project's suite runs."""
    project = render(**installed.answers)
    generated = {path.relative_to(project).as_posix()
                 for path in project.rglob("*") if path.is_file()
                 and not {"__pycache__", ".pytest_cache", "build"}
                 & set(path.relative_to(project).parts)
                 and ".egg-info" not in path.as_posix()}
    unpacked = {path.relative_to(installed.project).as_posix()
                for path in installed.project.rglob("*") if path.is_file()}
    left_out = {".gitignore", ".gitattributes", ".pre-commit-config.yaml",
                ".github/workflows/ci.yml", ".github/dependabot.yml",
                ".readthedocs.yaml"}
    assert generated - unpacked == left_out
    assert {"tests/conftest.py", "device_db.py", "PKG-INFO"} <= unpacked


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: the "
                    "console scripts import it")
def test_console_scripts_run(installed):
    """aqctl_hello runs in the sipyco_rpctool session; the client here."""
    for script in installed.scripts()[1:]:
        result = installed.run(script, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {script} ")


def test_generated_test_suite_passes(installed):
    """`python -m pytest`, as the generated README says: no option added,
    so the project's own configuration must report every skip."""
    assert_passed_or_skipped_for_a_reason(installed.suite,
                                          *needed(installed.answers))


@pytest.mark.skipif(not CAN_LEND_WHAT_CI_INSTALLS, reason="sipyco or "
                    "artiq-comtools is not installed: the generated workflow "
                    "installs both (from git), and this test lends them to "
                    "the project's environment")
def test_what_its_ci_installs_is_all_its_tests_need(installations):
    """One row's environment holds only what its workflow installs: its
    dependencies name every library its tests need, and flake8 passes."""
    installed = installations[combination_id(CI_ROW)]
    flake8 = installed.flake8
    assert flake8.returncode == 0, flake8.stdout + flake8.stderr
    assert_passed_or_skipped_for_a_reason(installed.suite,
                                          *needed(installed.answers))
    visible = installed.run(str(installed.python), "-c",
                            "import hypothesis", cwd=installed.project)
    assert visible.returncode != 0, "the environment sees more than CI's"


@pytest.mark.parametrize("answers", CTLMGR_ROWS, ids=combination_id)
def test_artiq_ctlmgr_runs_the_entry(installations, answers):
    """The project's own test: its device_db entry under a real
    artiq_master and artiq_ctlmgr."""
    installed = installations[combination_id(answers)]
    result = installed.ctlmgr
    if not (HAS_SIPYCO and HAS_ARTIQ):
        assert result.returncode == 5, result.stdout + result.stderr
        assert re.search("sipyco|artiq", result.stdout), result.stdout
        return
    assert_passed_or_skipped_for_a_reason(result, "sipyco", "openssl")


def test_skip_reasons_are_shown_without_options(render):
    """Not installed, the project's artiq_ctlmgr test cannot run: pytest,
    given no option, says why."""
    result = run_python("-m", "pytest", "-p", "no:cacheprovider",
                        "tests/test_contract_ctlmgr.py", cwd=render())
    # 5: every test of the module skipped, so none ran.
    assert result.returncode == 5, result.stdout + result.stderr
    assert re.search(r"^SKIPPED \[1\] .*(sipyco|artiq|not on PATH)",
                     result.stdout, re.MULTILINE), result.stdout


def port_accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def readme_log_lines(project):
    """The generated README's lines of ctlmgr's log, as patterns."""
    readme = (project / "README.md").read_text()
    section = readme.split("### Where artiq_ctlmgr runs\n", 1)[1]
    [block] = re.findall(r"```text\n(.*?)```", section, re.DOTALL)
    return [re.escape(line).replace(re.escape("<this host>"), r"[^)]+")
            for line in block.splitlines()]


@pytest.mark.skipif(not (HAS_SIPYCO and HAS_ARTIQ),
                    reason="sipyco, artiq or artiq-comtools is not "
                    "installed: this test runs the real artiq_ctlmgr")
def test_the_readme_shows_what_ctlmgr_logs_when_the_script_is_missing(
        render, tmp_path):
    """The project rendered, not installed: aqctl_hello is on no PATH.
    A real artiq_master serves its device_db.py (on free ports), and
    artiq_ctlmgr logs what the README shows, line for line."""
    project = render()
    assert shutil.which("aqctl_hello", path=os.defpath) is None
    shutil.copy(project / "device_db.py", tmp_path)
    notify, control, logging, broadcast, ctlmgr_control = (
        free_port() for _ in range(5))
    master = subprocess.Popen(
        [sys.executable, "-m", "artiq.frontend.artiq_master",
         "--port-notify", str(notify), "--port-control", str(control),
         "--port-logging", str(logging), "--port-broadcast", str(broadcast)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctlmgr, lines, timer = None, [], None
    try:
        assert wait_for(lambda: port_accepts(notify)), "no artiq_master"
        ctlmgr = subprocess.Popen(
            [sys.executable, "-m", "artiq_comtools.artiq_ctlmgr",
             "--port-notify", str(notify), "--port-logging", str(logging),
             "--port-control", str(ctlmgr_control)],
            cwd=tmp_path, env=dict(os.environ, PATH=os.defpath),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Should it never log the retry, the test fails rather than hang.
        timer = threading.Timer(30, ctlmgr.kill)
        timer.start()
        for line in ctlmgr.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("WARNING") and "Restarting in" in line:
                break
    finally:
        if timer is not None:
            timer.cancel()
        for process in (ctlmgr, master):
            if process is not None:
                process.kill()
                process.wait()
    log = [line for line in lines if line.startswith("WARNING")]
    patterns = readme_log_lines(project)
    assert len(log) == len(patterns), lines
    for pattern, line in zip(patterns, log):
        assert re.fullmatch(pattern, line), (pattern, line)


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
    installed = installations[combination_id(ROWS[0])]
    hosts = tmp_path / "hosts"
    hosts.write_text(LOCALHOST_IPV6_FIRST)
    script = ('mount --bind "$1" /etc/hosts && exec "$2" -m pytest '
              '-p no:cacheprovider tests/test_contract_ctlmgr.py')
    result = installed.run("unshare", "-m", "sh", "-c", script, "sh",
                           str(hosts), str(installed.python),
                           cwd=installed.project)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary


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
    the device_db entry as written and with SSL under artiq_ctlmgr, on a
    project with remote execution, which adds a target. A network of its
    own: ARTIQ's ports there are this test's alone."""
    answers = next(answers for answers in ROWS if answers["remote_exec"])
    installed = installations[combination_id(answers)]
    result = installed.run("unshare", "-rn", "sh", "-c", WITHOUT_IPV6,
                           "sh", str(installed.python),
                           cwd=installed.project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout


# What each example device answers to sipyco_rpctool: (arguments, output).
RPCTOOL_CALLS = {
    "console": [(["call", "message", '"from rpctool"'], "")],
    "scpi": [(["call", "set_voltage", "12.5"], ""),
             (["call", "get_voltage"], "12.5\n")],
    # ThorlabsPro8000's own formatting and validation, on its simulation.
    "pymeasure": [(["call", "set_LDCCurrent", "0.25"], ""),
                  (["call", "get_LDCCurrent"], "0.25\n"),
                  # Not set: its first allowed value.
                  (["call", "get_LDCStatus"], "'ON'\n")],
}


def rpctool_session(installed):
    """The installed controller, started as a device_db command with
    --simulation appended (-d is given, and the simulation wins), called
    with sipyco_rpctool, then terminated: every output, and its own."""
    port = free_port()
    controller = installed.popen(
        "aqctl_hello", "-d", address_of(installed.answers), "--simulation",
        "--no-localhost-bind", "--bind", "127.0.0.1", "-p", str(port))
    calls = [["list-methods"],
             *(arguments for arguments, _ in
               RPCTOOL_CALLS[device_of(installed.answers)]),
             ["call", "terminate"]]
    outputs = {}
    try:
        if wait_for(lambda: controller_answers(port)):
            for arguments in calls:
                # -t: the example's arrays make a second target.
                action, *rest = arguments
                outputs[" ".join(arguments)] = installed.run(
                    str(installed.python), "-m", "sipyco.sipyco_rpctool",
                    "127.0.0.1", str(port), action, "-t", "hello", *rest)
        controller.communicate(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
    stdout, stderr = controller.communicate()
    return outputs, controller.returncode, stdout, stderr


@pytest.mark.skipif(not HAS_SIPYCO, reason="sipyco is not installed: "
                    "this test serves the controller to sipyco_rpctool")
@pytest.mark.parametrize("answers", RPCTOOL_ROWS, ids=combination_id)
def test_sipyco_rpctool_lists_calls_and_terminates(installations, answers):
    installed = installations[combination_id(answers)]
    outputs, code, stdout, stderr = installed.session
    assert outputs, f"the controller never answered:\n{stderr}"
    for call, result in outputs.items():
        assert result.returncode == 0, (call, result.stderr)
    for signature in ("ping(self)", "terminate(self)"):
        assert f"\n{signature}\n    " in outputs["list-methods"].stdout
    # The controller's own, not a client's.
    assert "\nclose(self)" not in outputs["list-methods"].stdout
    for arguments, output in RPCTOOL_CALLS[device_of(installed.answers)]:
        assert outputs[" ".join(arguments)].stdout == output
    assert code == 0, stderr
    if device_of(installed.answers) == "console":
        assert "[simulation] message: from rpctool" in stdout
