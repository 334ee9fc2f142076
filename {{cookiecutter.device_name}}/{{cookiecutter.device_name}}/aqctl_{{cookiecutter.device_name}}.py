{%- set name = cookiecutter.device_name -%}
{%- set cls = cookiecutter.__driver_class -%}
"""aqctl_{{ name }}: the ARTIQ controller.

This file is yours: the device's title, its default port, its own
command-line options, and the driver to serve. The rest (the command
line, opening the device, checking that it answers, serving it over
sipyco RPC, closing it) is the generic runtime's, ndsp_runtime/controller.py.
"""

from .driver import {{ cls }}
{%- if cookiecutter.driver_source == "example" %}
from .fake_device import FakeDevice
{%- endif %}
from .ndsp_runtime.controller import Controller

TITLE = {{ cookiecutter.device_title | py_string }}
DEFAULT_PORT = {{ cookiecutter.default_port }}


def add_device_options(group):
    """Add the device's own options to ``group``, beside the {{ "driver's" if cookiecutter.driver_source == "pymeasure" else "transport's" }}
    (--timeout, --baudrate, --visa-library); the driver's open() gets
    each by name: ``options.channel`` for ``--channel``."""


CONTROLLER = Controller(
    "{{ name }}", TITLE, DEFAULT_PORT,
    driver={{ cls }},
{%- if cookiecutter.driver_source == "example" %}
    fake_device=FakeDevice,
{%- endif %}
    add_device_options=add_device_options,
{%- if cookiecutter.remote_exec %}
    # Also serve {{ name }}_rexec: experiments' code, run next to the driver.
    remote_exec=True,
{%- endif %}
)
get_argparser = CONTROLLER.argparser
main = CONTROLLER.main

if __name__ == "__main__":
    main()
