{%- set cls = cookiecutter.__driver_class -%}
"""The driver: pymeasure's {{ cls }}, served as it is.

Every control of the class is served as ``get_<name>`` and ``set_<name>``,
every public method as itself, a channel's with its prefix
(``ch_2_set_frequency``), each with pymeasure's docstring:
``sipyco_rpctool list-methods`` shows them. The list is built from the
installed pymeasure when the controller starts. To edit it, write it out
as plain driver code and replace this file with it::

    python -m {{ cookiecutter.device_name }}.ndsp_runtime.pymeasure_export \
        {{ cookiecutter.pymeasure_class }} \
        > {{ cookiecutter.device_name }}/driver.py
"""

from .ndsp_runtime.pymeasure_driver import served_class

{{ cls }} = served_class(
    "{{ cookiecutter.pymeasure_class }}")
