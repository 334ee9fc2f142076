"""Finish the generated NDSP: remove the parts not chosen, then check it.

Standard library only, offline and idempotent (cruft runs it again on every
update). With run_checks, flake8 and a smoke test of the controller run side
by side when this Python has them; a check that runs and fails fails the
generation.
"""

import concurrent.futures
import importlib.util
import json
import pathlib
import socket
import subprocess
import sys
import time

ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
NAME = ANSWERS["device_name"]

# The registry of options in ndsp_extensions.py: the files each adds.
OPTIONS = json.loads(r'''{{ options | tojson }}''')
SMOKE_TIMEOUT = 15.0  # seconds; generous for a busy machine
# What the smoke test runs through the remote execution target.
REMOTE_CODE = """
def alive():
    return controller_driver.ping()
"""
# Left by the pre-generation hook when the folder held files already (-f).
OVERWRITE_MARKER = ".ndsp-template-overwrite"


class CheckFailed(Exception):
    """A check ran and found a problem in the generated NDSP."""


def say(message):
    print(f"ndsp-template: {message}", flush=True)


def unchosen_files(answers):
    """The files of the registry that the answers do not keep."""
    return [path.format(name=NAME)
            for key, option in OPTIONS.items()
            for path, kept_for in option.get("adds", {}).items()
            if answers[key] not in kept_for]


def remove_unchosen_parts(project, answers):
    for path in unchosen_files(answers):
        (project / path).unlink(missing_ok=True)


def run_flake8(project):
    """What flake8 said of the project, or CheckFailed."""
    if importlib.util.find_spec("flake8") is None:
        return "flake8 is not installed for this Python; style check skipped."
    # The runtime is copied as it is, the same in every project, and the
    # template's own tests lint it: flake8 here reads what the answers
    # wrote (it is most of the check's time).
    runtime = f"./{NAME}/ndsp_runtime"
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--extend-exclude", runtime, "."],
        cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckFailed("flake8 found problems:\n"
                          + result.stdout + result.stderr)
    return "flake8: no problems."


def free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(port, controller, target):
    """A sipyco client of the starting controller, once it listens."""
    from sipyco.pc_rpc import Client

    deadline = time.monotonic() + SMOKE_TIMEOUT
    while True:
        try:
            return Client("127.0.0.1", port, target, timeout=SMOKE_TIMEOUT)
        except ConnectionRefusedError:
            if controller.poll() is not None:
                raise CheckFailed("the controller exited before it served")
            if time.monotonic() > deadline:
                raise CheckFailed(f"the controller did not listen on port "
                                  f"{port} within {SMOKE_TIMEOUT:.0f} s")
            time.sleep(0.01)


def checked(call, what):
    """call()'s result; a failure over RPC is a failed check."""
    try:
        return call()
    except Exception as error:
        raise CheckFailed(f"{what} failed over RPC: "
                          f"{type(error).__name__}: {error}")


def check_the_contract(client):
    """What every NDSP owes ARTIQ, whatever its device: ping() is True and
    every method that sipyco_rpctool lists has a docstring."""
    alive = checked(client.ping, "ping()")
    if alive is not True:
        raise CheckFailed(f"ping() returned {alive!r}, expected True")
    methods = checked(client.get_rpc_method_list, "the method list")
    undocumented = sorted(name for name, (_, docstring)
                          in methods["methods"].items() if not docstring)
    if undocumented:
        raise CheckFailed("give these methods a docstring, which "
                          "sipyco_rpctool shows: "
                          + ", ".join(f"{name}()" for name in undocumented))


def check_remote_execution(client):
    """The aux target runs code in the controller, next to the driver."""
    checked(lambda: client.add_code(REMOTE_CODE), "add_code()")
    alive = checked(lambda: client.call("alive"), "remote execution")
    if alive is not True:
        raise CheckFailed(f"remote execution: controller_driver.ping() "
                          f"returned {alive!r}, expected True")


def call_the_controller(port, controller):
    """Every check the answers call for, then terminate."""
    if ANSWERS["remote_exec"]:
        client = connect(port, controller, f"{NAME}_rexec")
        try:
            check_remote_execution(client)
        finally:
            client.close_rpc()
    client = connect(port, controller, NAME)
    try:
        check_the_contract(client)
        client.terminate()
    finally:
        client.close_rpc()


def smoke_test(project):
    """Serve the simulation, call it over sipyco RPC, terminate it: what
    the test did, or CheckFailed."""
    source = OPTIONS["driver_source"]["records"][ANSWERS["driver_source"]]
    for module in ["sipyco", *source["needs"]]:
        if importlib.util.find_spec(module) is None:
            return (f"{module} is not installed for this Python; "
                    "controller smoke test skipped.")
    serve_and_check(project)
    said = ["answered ping() over RPC", "documented every method"]
    if ANSWERS["remote_exec"]:
        said.append("ran code through its remote execution target")
    return (f"smoke test: aqctl_{NAME} --simulation {', '.join(said)}, "
            "and exited cleanly on terminate.")


def serve_and_check(project):
    port = free_loopback_port()
    command = [sys.executable, "-m", f"{NAME}.aqctl_{NAME}", "--simulation",
               "--no-localhost-bind", "--bind", "127.0.0.1", "-p", str(port)]
    controller = subprocess.Popen(command, cwd=project, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
    try:
        call_the_controller(port, controller)
        controller.communicate(timeout=SMOKE_TIMEOUT)
        if controller.returncode != 0:
            raise CheckFailed(f"the controller exited with code "
                              f"{controller.returncode} after terminate")
    except (CheckFailed, subprocess.TimeoutExpired) as failure:
        controller.kill()
        output, _ = controller.communicate()
        raise CheckFailed(f"controller smoke test: {failure}\n"
                          f"$ {' '.join(command)}\n{output}") from None


def take_overwrite_marker(project):
    """Whether the folder held files before cookiecutter wrote it."""
    marker = project / OVERWRITE_MARKER
    overwritten = marker.exists()
    marker.unlink(missing_ok=True)
    return overwritten


def failure_outcome(overwritten):
    """What cookiecutter does with the folder once this hook fails."""
    if overwritten:
        return ("the folder existed before (cookiecutter -f): its files "
                "were overwritten and are left as they are now")
    return "it was removed"


def run_checks(project):
    """flake8 and the smoke test, side by side: what each said, or
    CheckFailed with the failures of both."""
    with concurrent.futures.ThreadPoolExecutor() as pool:
        checks = [pool.submit(run_flake8, project),
                  pool.submit(smoke_test, project)]
    said, failures = [], []
    for check in checks:
        try:
            said.append(check.result())
        except CheckFailed as failure:
            failures.append(str(failure))
    if failures:
        raise CheckFailed("\n".join(failures))
    return said


def main(project=None):
    project = project or pathlib.Path.cwd()
    overwritten = take_overwrite_marker(project)
    remove_unchosen_parts(project, ANSWERS)
    if not ANSWERS["run_checks"]:
        say("checks skipped (run_checks is false).")
        return 0
    try:
        for message in run_checks(project):
            say(message)
    except CheckFailed as failure:
        print(f"ndsp-template: the generated NDSP failed a check, so "
              f"{failure_outcome(overwritten)}:\n{failure}\nRerun with "
              f"--keep-project-on-failure to inspect it, or answer "
              f"run_checks=no to skip the checks.", file=sys.stderr)
        return 1
    say(f"{NAME}/README.md says how to install, run and test it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
