"""The generic runtime's bulk sessions (ndsp_runtime.bulk), in this
process: an upload is staged in chunks, each checked, and reaches the
driver only whole; a result is kept and read back in chunks; only the
driver's public methods are called; memory is held in the connection's
account. Through a served controller in each generated project's
test_contract_bulk.py and, with sipyco, in test_runtime_server.py's way."""

import asyncio
import sys

import numpy
import pytest

from conftest import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

from ndsp_runtime.bulk import BulkSession, array_methods  # noqa: E402
from ndsp_runtime.limits import MIB, Limits, MemoryBudget  # noqa: E402


class Driver:
    """A driver with array methods, and one without."""

    def __init__(self):
        self.loaded = None

    def load(self, data: numpy.ndarray, gain: float = 1.0):
        """Load samples."""
        self.loaded = (data, gain)

    async def trace(self, n: int) -> numpy.ndarray:
        """``n`` samples."""
        return numpy.arange(float(n))

    def ping(self):
        """Alive."""
        return True

    def close(self):
        """The controller's."""


@pytest.fixture
def budget():
    return MemoryBudget(Limits(max_array_bytes=MIB,
                               max_connection_bytes=2 * MIB))


@pytest.fixture
def session(budget):
    return BulkSession(Driver(), budget.account())


def run(coroutine):
    return asyncio.run(coroutine)


def test_array_methods_are_those_annotated_with_arrays():
    assert array_methods(Driver) == ["load", "trace"]
    assert array_methods(Driver()) == ["load", "trace"]


def test_an_upload_reaches_the_driver_whole(session):
    session.begin(4, "<f8")
    session.chunk(0, numpy.arange(2.0))
    session.chunk(1, numpy.arange(2.0, 4.0))
    run(session.commit("load", [], {"gain": 2.0}))
    data, gain = session._driver.loaded
    assert list(data) == [0, 1, 2, 3] and gain == 2.0


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
        run(session.commit("load", [], {}))
    assert session._driver.loaded is None


@pytest.mark.parametrize("name", ["close", "_driver", "__setattr__",
                                  "__init__", "missing"])
def test_only_the_drivers_public_methods_are_called(session, name):
    with pytest.raises(AttributeError, match="is not a method this "
                       "controller serves"):
        run(session.call(name, [], {}))
    session.begin(1, "<f8")
    session.chunk(0, numpy.zeros(1))
    with pytest.raises(AttributeError, match="is not a method this "
                       "controller serves"):
        run(session.commit(name, [], {}))


def test_a_result_is_kept_and_read_in_chunks(session, budget):
    assert run(session.call("trace", [10], {})) == (10, "<f8")
    assert budget.held == 80
    assert list(session.fetch(2, 5)) == [2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match="sample numbers"):
        session.fetch("0", 5)


def test_arrays_over_the_limits_are_refused_and_hold_nothing(session,
                                                             budget):
    with pytest.raises(ValueError, match="--max-array-mib"):
        session.begin(MIB // 8 + 1, "<f8")
    with pytest.raises(ValueError, match="--max-array-mib"):
        run(session.call("trace", [MIB // 8 + 1], {}))
    assert budget.held == 0
    session.begin(MIB // 8, "<f8")
    assert budget.held == MIB
    session.begin(1, "<f8")  # replaces the staged upload
    assert budget.held == 8
