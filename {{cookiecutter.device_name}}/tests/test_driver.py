{%- set cls = cookiecutter.__driver_class -%}
{%- set asyncio = cookiecutter.driver_api == "asyncio" -%}
{%- macro call(expression) -%}
{%- if asyncio %}asyncio.run({{ expression }}){% else %}{{ expression }}{% endif -%}
{%- endmacro -%}
"""The driver and its simulation, without sipyco or a controller."""

{% if asyncio -%}
import asyncio
{% endif -%}
import inspect

import pytest

from {{ cookiecutter.device_name }}.driver import (
    {{ cls }}, {{ cls }}Sim)


def public_methods(cls):
    return {name: method
            for name, method in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


@pytest.fixture
def console(tmp_path):
    """An existing file to print on, as a terminal would be."""
    path = tmp_path / "console.txt"
    path.touch()
    return path


@pytest.fixture(params=["device", "simulation"])
def driver(request, console):
    """The driver on a file as its console, then the simulation."""
    if request.param == "device":
        return {{ cls }}(str(console))
    return {{ cls }}Sim()


def test_methods_are_documented_for_sipyco_rpctool(driver):
    for name, method in public_methods(type(driver)).items():
        assert inspect.getdoc(method), f"{name}() has no docstring"
        # sipyco names each annotation by its __name__ (sipyco#8).
        for annotation in inspect.getfullargspec(method).annotations.values():
            assert hasattr(annotation, "__name__"), (name, annotation)


def test_simulation_offers_the_same_methods():
    simulated = public_methods({{ cls }}Sim)
    assert simulated.keys() == public_methods({{ cls }}).keys()


def test_ping_until_closed(driver):
    assert {{ call("driver.ping()") }} is True
    {{ call("driver.close()") }}
    assert {{ call("driver.ping()") }} is False


def test_message_refuses_what_is_not_text(driver):
    with pytest.raises(TypeError, match="msg must be a str, not int"):
        {{ call("driver.message(42)") }}


def test_message_on_the_console(capsys):
    driver = {{ cls }}("console")
    {{ call('driver.message("hi")') }}
    assert capsys.readouterr().out == "message: hi\n"
    {{ call("driver.close()") }}
    print("stdout stays open")
    assert capsys.readouterr().out == "stdout stays open\n"


def test_message_on_a_terminal_or_file(console):
    driver = {{ cls }}(str(console))
    {{ call('driver.message("first")') }}
    {{ call('driver.message("second")') }}
    {{ call("driver.close()") }}
    assert console.read_text() == "message: first\nmessage: second\n"


def test_device_that_cannot_be_opened(tmp_path):
    with pytest.raises(FileNotFoundError):
        {{ cls }}(str(tmp_path / "missing" / "tty"))


def test_a_missing_device_is_not_created(tmp_path):
    unplugged = tmp_path / "ttyUSB0"
    with pytest.raises(FileNotFoundError):
        {{ cls }}(str(unplugged))
    assert not unplugged.exists()


def test_simulation_prints_what_the_device_would(capsys):
    driver = {{ cls }}Sim()
    {{ call('driver.message("hi")') }}
    assert capsys.readouterr().out == "[simulation] message: hi\n"
