{%- set name = cookiecutter.device_name -%}
"""Contract: remote execution. The <name>_rexec target runs an
experiment's code in the controller's own process, next to the driver
(the device_db's <name>_aux entry). These tests name no method of the
example device: they must pass unchanged once the driver is yours."""

import os
import runpy
import pathlib

import pytest

from conftest import NAME, SIPYCO_MISSING, RawClient

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)

DEVICE_DB = pathlib.Path(__file__).parent.parent / "device_db.py"
# Code an experiment sends: controller_driver is the controller's driver.
CODE = """
import os


def where():
    return os.getpid()


def alive():
    return controller_driver.ping()
"""


def test_code_runs_in_the_controllers_process(served):
    rexec = served.client(target=f"{NAME}_rexec")
    try:
        rexec.add_code(CODE)
        assert rexec.call("where") == served.process.pid
        assert rexec.call("alive") is True
    finally:
        rexec.close_rpc()
    assert os.getpid() != served.process.pid


@pytest.mark.parametrize("name", ["__init__", "__setattr__", "namespace"])
def test_the_target_serves_its_methods_only(served, name):
    """Remote execution runs any code a client sends, by design (keep
    such a controller on a trusted network); its other attributes are
    not served."""
    client = RawClient(served.port, target=f"{NAME}_rexec")
    try:
        reply = client.call(name, {})
    finally:
        client.close()
    assert reply["status"] == "failed"
    assert reply["exception"]["class"] == "AttributeError"


def test_the_device_db_names_the_aux_target():
    device_db = runpy.run_path(str(DEVICE_DB))["device_db"]
    assert device_db[f"{NAME}_aux"] == {
        "type": "controller_aux_target", "controller": NAME,
        "target_name": f"{NAME}_rexec"}
    # A controller with two targets needs its own named.
    assert device_db[NAME]["target_name"] == NAME
