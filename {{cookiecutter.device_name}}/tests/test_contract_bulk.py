{%- set name = cookiecutter.device_name -%}
"""Contract: large arrays (bulk.py). Through the controller's <name>_bulk
target, an upload travels in chunks, each checked, and reaches the driver
only whole. These tests name no method of the example device: they must
pass unchanged once the driver is yours."""

import numpy
import pytest

from conftest import SIPYCO_MISSING, RawClient, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
from {{ name }} import bulk


@pytest.fixture
def session(served):
    client = served.client(target=bulk.TARGET)
    yield client
    client.close_rpc()


def test_bulk_target_is_served_beside_the_driver(served):
    client = served.client()
    try:
        targets = client.get_rpc_id()[0]
    finally:
        client.close_rpc()
    assert bulk.TARGET in targets


# sipyco raises, in the client, the exception the controller raised.
def test_chunks_out_of_order_are_refused(session):
    session.begin(4, "<f8")
    session.chunk(0, numpy.zeros(2))
    with pytest.raises(ValueError, match="chunk 2 arrived where chunk 1 "
                       "was expected"):
        session.chunk(2, numpy.zeros(2))


def test_a_chunk_of_another_dtype_is_refused(session):
    session.begin(4, "<f8")
    with pytest.raises(TypeError, match="chunk 0 is int32, the upload "
                       "is float64"):
        session.chunk(0, numpy.zeros(2, numpy.int32))


def test_only_numeric_samples_are_staged(session):
    with pytest.raises(TypeError, match="object is not a numeric dtype"):
        session.begin(4, "O")


def test_a_chunk_past_the_staged_length_is_refused(session):
    session.begin(2, "<f8")
    with pytest.raises(ValueError, match="goes past the 2 samples"):
        session.chunk(0, numpy.zeros(3))


def test_an_incomplete_upload_never_reaches_the_driver(session):
    session.begin(4, "<f8")
    session.chunk(0, numpy.zeros(2))
    with pytest.raises(ValueError, match="holds 2 of its 4 samples: "
                       "nothing was passed to the driver"):
        session.commit("ping", [], {})


NOT_SERVED = ["close", "_transport", "__setattr__", "__init__", "__class__"]


@pytest.mark.parametrize("name", NOT_SERVED)
def test_only_public_driver_methods_are_called_through_bulk(session, served,
                                                            name):
    with pytest.raises(AttributeError, match=f"{name!r} is not a method "
                       "this controller serves"):
        session.call(name, [], {})
    session.begin(1, "<f8")
    session.chunk(0, numpy.zeros(1))
    with pytest.raises(AttributeError, match=f"{name!r} is not a method "
                       "this controller serves"):
        session.commit(name, [], {})
    assert served.ping() is True


@pytest.mark.parametrize("name", ["__setattr__", "_staged", "_driver"])
def test_the_bulk_session_serves_its_public_methods_only(served, name):
    client = RawClient(served.port, target=bulk.TARGET)
    try:
        reply = client.call(name, "_driver", None)
    finally:
        client.close()
    assert reply["status"] == "failed"
    assert reply["exception"]["class"] == "AttributeError"


def test_no_controller_is_told_apart_from_a_driver_error():
    with pytest.raises(bulk.ControllerUnreachable, match="127.0.0.1:"):
        bulk.download("127.0.0.1", free_port(), "ping")
