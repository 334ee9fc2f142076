{%- set name = cookiecutter.device_name -%}
"""Device tests: pymeasure's {{ cookiecutter.__driver_class }}, served, against the
simulated instrument that --simulation builds from the class's own
command table.

This file is yours: add what your instrument's own protocol needs. The
contract tests (test_contract_*.py) check what every NDSP owes ARTIQ,
whatever its device, and must keep passing unchanged."""

import pytest

from {{ name }}.aqctl_{{ name }} import CONTROLLER
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.ndsp_runtime import pymeasure_fake

pytest.importorskip("sipyco", reason="sipyco is not installed: the "
                    "controller's command line is sipyco's")
# Each control the simulated instrument holds: its setter and getter, a
# value to set and one its validator refuses (None where it refuses none).
CONTROLS = pymeasure_fake.round_trips(Driver.instrument_class)


@pytest.fixture(scope="module")
def driver():
    """The served driver on the simulated instrument, opened as the
    controller opens it."""
    from {{ name }}.ndsp_runtime.controller import run
    import asyncio

    args = CONTROLLER.argparser().parse_args(["--simulation"])
    loop = asyncio.new_event_loop()
    served = run(loop, CONTROLLER.open_driver(args))
    yield loop, served
    run(loop, served.close())
    loop.close()


def test_the_simulation_holds_controls():
    assert CONTROLS, "the simulated instrument holds no control"


@pytest.mark.parametrize("setter, getter, value, refused", CONTROLS,
                         ids=[getter for _, getter, _, _ in CONTROLS])
def test_a_value_set_is_read_back(driver, setter, getter, value, refused):
    loop, served = driver
    loop.run_until_complete(getattr(served, setter)(value))
    assert loop.run_until_complete(getattr(served, getter)()) == value
    if refused is not None:
        with pytest.raises(ValueError):
            loop.run_until_complete(getattr(served, setter)(refused))
