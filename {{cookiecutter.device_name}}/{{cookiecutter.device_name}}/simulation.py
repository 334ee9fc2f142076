{% include "simulations/transport_" ~ cookiecutter.driver_api ~ ".py" %}

{% include "simulations/" ~ cookiecutter.__device ~ ".py" %}