{%- set name = cookiecutter.device_name -%}
"""aqcli_{{ name }}: the command-line client.

A command per public method of the driver: ndsp_runtime/client.py builds
them from the driver's signatures and docstrings."""

from .aqctl_{{ name }} import DEFAULT_PORT, TITLE
from .driver import {{ cookiecutter.__driver_class }}
from .ndsp_runtime import client


def get_argparser():
    return client.argparser(
        {{ cookiecutter.__driver_class }}, "{{ name }}", TITLE, DEFAULT_PORT)


def main():
    client.main(get_argparser)


if __name__ == "__main__":
    main()
