{%- set cls = cookiecutter.__driver_class -%}
"""The driver against its simulation (a fake console behind the transport
interface) and on a real console. Needs neither sipyco nor hardware."""

import pytest

from {{ cookiecutter.device_name }}.driver import {{ cls }}
from {{ cookiecutter.device_name }}.simulation import (
    FakeDevice, SimulatedTransport)


@pytest.fixture
def driver():
    return {{ cls }}(SimulatedTransport(FakeDevice(), timeout=0.1))


def test_simulation_prints_what_the_device_would(driver, call, capsys):
    call(driver.message("hi"))
    assert capsys.readouterr().out == "[simulation] message: hi\n"


def test_message_refuses_what_is_not_text(driver, call):
    with pytest.raises(TypeError, match="msg must be a str, not int"):
        call(driver.message(42))


def test_ping_until_closed(driver, call):
    assert call(driver.ping()) is True
    call(driver.close())
    assert call(driver.ping()) is False
