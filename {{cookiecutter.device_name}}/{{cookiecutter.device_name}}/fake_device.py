{% include "fake_devices/" ~ cookiecutter.__device ~ ".py" -%}
