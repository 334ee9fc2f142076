{%- set cls = cookiecutter.__driver_class -%}
"""ARTIQ network device support package: driver, controller and tests.

Importing this package needs neither sipyco nor ARTIQ, nor the transport's
library: that is imported only when a device is opened.
"""

from .driver import {{ cls }}
{%- if cookiecutter.include_mediator %}

__all__ = [
    "{{ cls }}",
    "{{ cls }}Mediator",
]


def __getattr__(name):
    """The mediator, imported on first use: it imports ARTIQ, which a
    controller-only host need not have."""
    if name == "{{ cls }}Mediator":
        from .mediator import {{ cls }}Mediator
        return {{ cls }}Mediator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
{%- else %}

__all__ = ["{{ cls }}"]
{%- endif %}
