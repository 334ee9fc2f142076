{%- set name = cookiecutter.device_name -%}
"""Contract: large arrays. A controller whose driver has methods that take
or return an array (annotated numpy.ndarray) serves, beside the driver,
the target <name>_bulk, through which they travel in chunks
(ndsp_runtime/bulk.py, tested with the template); one without serves the
driver alone. These tests name no method of the example device: they must
pass unchanged once the driver is yours."""

import pytest

from conftest import NAME, SIPYCO_MISSING, RawClient, free_port, served_class

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
from {{ name }}.ndsp_runtime import bulk
from sipyco.pc_rpc import IncompatibleServer

BULK_TARGET = NAME + bulk.SUFFIX
# The class served: driver.py's, or the one its open() builds.
ARRAY_METHODS = bulk.array_methods(served_class())
# Names a request may give that are not the driver's public methods.
NOT_SERVED = ["close", "_transport", "__setattr__", "__init__", "__class__"]


def test_the_bulk_target_is_served_exactly_when_there_are_arrays(served):
    client = served.client()
    try:
        targets = client.get_rpc_id()[0]
    finally:
        client.close_rpc()
    assert targets[0] == NAME
    assert (BULK_TARGET in targets) == bool(ARRAY_METHODS)


def test_only_public_driver_methods_are_called_through_bulk(served):
    if not ARRAY_METHODS:  # no bulk target: nothing reaches the driver
        with pytest.raises(IncompatibleServer):
            served.client(target=BULK_TARGET)
        return
    for name in NOT_SERVED:
        for request in (["call", name, [], {}],
                        ["commit", name, [], {}]):
            client = RawClient(served.port, target=BULK_TARGET)
            try:
                if request[0] == "commit":
                    client.call("begin", 0, "<f8")
                reply = client.call(*request)
            finally:
                client.close()
            assert reply["status"] == "failed", (name, reply)
            assert reply["exception"]["class"] == "AttributeError"
    assert served.ping() is True


def test_no_controller_is_told_apart_from_a_driver_error():
    with pytest.raises(bulk.ControllerUnreachable, match="127.0.0.1:"):
        bulk.download("127.0.0.1", free_port(), "ping")
