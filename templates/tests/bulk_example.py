{#- The example's waveform memory through the controller, with bulk.py;
    included at the end of test_device.py when there is a client. #}

# --- The waveform memory through the controller, in chunks (bulk.py) ---

import numpy  # noqa: E402

from {{ cookiecutter.device_name }} import bulk  # noqa: E402
{%- if cookiecutter.ssl %}
from certificates import client_ssl_config  # noqa: E402
{%- endif %}


def bulk_arguments(served):
    return {"host": "127.0.0.1", "port": served.port,
            "ssl_config": {{ "client_ssl_config()" if cookiecutter.ssl else "None" }}}


@pytest.mark.parametrize("samples", [1_000_000, 10_000_000])
def test_a_waveform_round_trips_through_the_controller(served, samples):
    waveform = numpy.random.default_rng(samples).standard_normal(samples)
    bulk.upload(method="upload", data=waveform, **bulk_arguments(served))
    acquired = bulk.download(method="acquire", n=samples,
                             **bulk_arguments(served))
    assert acquired.dtype == numpy.float64
    assert numpy.array_equal(acquired, waveform)
    client = served.client()
    try:
        assert client.checksum() == pytest.approx(waveform.sum())
    finally:
        client.close_rpc()


def test_an_upload_cut_off_leaves_the_previous_waveform(served):
    previous = numpy.arange(10.0)
    bulk.upload(method="upload", data=previous, **bulk_arguments(served))
    session = served.client(target=bulk.TARGET)
    session.begin(1000, "<f8")
    session.chunk(0, numpy.ones(500))
    session.close_rpc()  # the connection ends mid-upload
    acquired = bulk.download(method="acquire", n=10,
                             **bulk_arguments(served))
    assert numpy.array_equal(acquired, previous)
