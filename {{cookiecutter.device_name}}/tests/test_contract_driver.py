{%- set name = cookiecutter.device_name -%}
"""Contract: what every driver owes sipyco_rpctool and artiq_ctlmgr,
whatever its device. These tests name no method of the example device:
they must pass unchanged once the driver is yours."""

import inspect

from conftest import public_methods
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver


def test_every_public_method_is_documented_for_sipyco_rpctool():
    for name, method in public_methods(Driver).items():
        assert inspect.getdoc(method), f"{name}() has no docstring"


def test_annotations_are_ones_sipyco_can_name():
    """sipyco names each annotation by its __name__: ``-> None`` or
    ``int | None`` break sipyco_rpctool list-methods (sipyco#8)."""
    for name, method in public_methods(Driver).items():
        for annotation in inspect.getfullargspec(method).annotations.values():
            assert hasattr(annotation, "__name__"), (name, annotation)


def test_artiq_ctlmgr_finds_ping_and_close():
    """It pings the controller every 30 s; the controller closes the
    driver however it stops."""
    for name in ("ping", "close"):
        method = getattr(Driver, name, None)
        assert inspect.isfunction(method), f"the driver has no {name}()"
        assert list(inspect.signature(method).parameters) == ["self"]


def test_close_is_the_controllers_not_a_clients():
    assert "close" not in public_methods(Driver)
    assert "ping" in public_methods(Driver)
