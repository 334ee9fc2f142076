"""ARTIQ network device support package: driver, controller and tests.

Importing this package needs neither sipyco nor ARTIQ, nor the transport's
library: that is imported only when a device is opened.
"""

from .driver import {{ cookiecutter.__driver_class }}

__all__ = ["{{ cookiecutter.__driver_class }}"]
