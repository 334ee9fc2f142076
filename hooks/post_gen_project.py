"""Finish the generated NDSP: remove the parts not chosen, then check it.

Standard library only, offline and idempotent (cruft runs it again on every
update). With run_checks, flake8 and a smoke test of the controller run when
this Python has them; a check that runs and fails fails the generation.
"""

import importlib.util
import json
import pathlib
import socket
import subprocess
import sys
import time

ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
NAME = ANSWERS["device_name"]

# The registry of options in local_extensions.py: the files each adds.
OPTIONS = json.loads(r'''{{ options | tojson }}''')
SMOKE_TIMEOUT = 15.0  # seconds; generous for a busy machine
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
    if importlib.util.find_spec("flake8") is None:
        say("flake8 is not installed for this Python; style check skipped.")
        return
    result = subprocess.run([sys.executable, "-m", "flake8", "."],
                            cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckFailed("flake8 found problems:\n"
                          + result.stdout + result.stderr)
    say("flake8: no problems.")


def free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(client_class, port, controller):
    """A sipyco client of the starting controller, once it listens."""
    deadline = time.monotonic() + SMOKE_TIMEOUT
    while True:
        try:
            return client_class("127.0.0.1", port, NAME,
                                timeout=SMOKE_TIMEOUT)
        except ConnectionRefusedError:
            if controller.poll() is not None:
                raise CheckFailed("the controller exited before it served")
            if time.monotonic() > deadline:
                raise CheckFailed(f"the controller did not listen on port "
                                  f"{port} within {SMOKE_TIMEOUT:.0f} s")
            time.sleep(0.05)


def check_the_contract(client):
    """What every NDSP owes ARTIQ, whatever its device: ping() is True and
    every method that sipyco_rpctool lists has a docstring."""
    try:
        alive = client.ping()
        methods = client.get_rpc_method_list()["methods"]
    except Exception as error:
        raise CheckFailed(f"the controller failed over RPC: "
                          f"{type(error).__name__}: {error}")
    if alive is not True:
        raise CheckFailed(f"ping() returned {alive!r}, expected True")
    undocumented = sorted(name for name, (_, docstring) in methods.items()
                          if not docstring)
    if undocumented:
        raise CheckFailed("give these methods a docstring, which "
                          "sipyco_rpctool shows: "
                          + ", ".join(f"{name}()" for name in undocumented))


def check_and_terminate(client):
    try:
        check_the_contract(client)
        client.terminate()
    finally:
        client.close_rpc()


def smoke_test(project):
    """Serve the simulation, call it over sipyco RPC, terminate it."""
    if importlib.util.find_spec("sipyco") is None:
        say("sipyco is not installed for this Python; "
            "controller smoke test skipped.")
        return
    from sipyco.pc_rpc import Client

    port = free_loopback_port()
    command = [sys.executable, "-m", f"{NAME}.aqctl_{NAME}", "--simulation",
               "--no-localhost-bind", "--bind", "127.0.0.1", "-p", str(port)]
    controller = subprocess.Popen(command, cwd=project, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
    try:
        check_and_terminate(connect(Client, port, controller))
        controller.communicate(timeout=SMOKE_TIMEOUT)
        if controller.returncode != 0:
            raise CheckFailed(f"the controller exited with code "
                              f"{controller.returncode} after terminate")
    except (CheckFailed, subprocess.TimeoutExpired) as failure:
        controller.kill()
        output, _ = controller.communicate()
        raise CheckFailed(f"controller smoke test: {failure}\n"
                          f"$ {' '.join(command)}\n{output}") from None
    say(f"smoke test: aqctl_{NAME} --simulation answered ping() over RPC, "
        "documented every method, and exited cleanly on terminate.")


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


def main():
    project = pathlib.Path.cwd()
    overwritten = take_overwrite_marker(project)
    remove_unchosen_parts(project, ANSWERS)
    if not ANSWERS["run_checks"]:
        say("checks skipped (run_checks is false).")
        return 0
    try:
        run_flake8(project)
        smoke_test(project)
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
