{% if cookiecutter.driver_source == "example" %}{% include "fake_devices/" ~ cookiecutter.__device ~ ".py" %}{% endif -%}
