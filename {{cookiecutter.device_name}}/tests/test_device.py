{% include "tests/device_" ~ cookiecutter.__device ~ ".py" -%}
