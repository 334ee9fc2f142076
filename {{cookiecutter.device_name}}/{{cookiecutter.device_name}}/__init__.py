"""ARTIQ network device support package: driver, controller and tests.

Importing this package needs neither sipyco nor ARTIQ.
"""

from .driver import {{ cookiecutter.__driver_class }}, {{ cookiecutter.__driver_class }}Sim

__all__ = ["{{ cookiecutter.__driver_class }}", "{{ cookiecutter.__driver_class }}Sim"]
