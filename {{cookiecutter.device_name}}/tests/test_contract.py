"""What every driver owes sipyco_rpctool, whatever its device: a docstring
for each public method, and no annotation that sipyco cannot name."""

import inspect

from {{ cookiecutter.device_name }}.driver import {{ cookiecutter.__driver_class }} as Driver


def public_methods(cls):
    return {name: method
            for name, method in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_methods_are_documented_for_sipyco_rpctool():
    for name, method in public_methods(Driver).items():
        assert inspect.getdoc(method), f"{name}() has no docstring"
        # sipyco names each annotation by its __name__ (sipyco#8).
        for annotation in inspect.getfullargspec(method).annotations.values():
            assert hasattr(annotation, "__name__"), (name, annotation)
