{%- set name = cookiecutter.device_name -%}
"""Device tests: the example's waveform memory through the controller in
chunks (the runtime's bulk.py), and through the client as files.

This file is yours, as test_device.py is: when you port the driver to
your instrument, test its own array methods here, or remove it."""

import numpy
import pytest

from {{ name }}.ndsp_runtime import bulk

CLIENT = "aqcli_{{ name }}"
BULK_TARGET = "{{ name }}" + bulk.SUFFIX


def bulk_arguments(served):
    return {"host": "127.0.0.1", "port": served.port}


@pytest.mark.parametrize("samples", [1000, 1_000_000])
def test_a_waveform_round_trips_through_the_controller(served, samples):
    waveform = numpy.random.default_rng(samples).standard_normal(samples)
    bulk.upload(method="upload", data=waveform, **bulk_arguments(served))
    acquired = bulk.download(method="acquire", args=[samples],
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
    session = served.client(target=BULK_TARGET)
    session.begin(1000, "<f8")
    session.chunk(0, numpy.ones(500))
    session.close_rpc()  # the connection ends mid-upload
    acquired = bulk.download(method="acquire", args=[10],
                             **bulk_arguments(served))
    assert numpy.array_equal(acquired, previous)


def run_client(served, monkeypatch, capsys, *arguments):
    """aqcli as its console script runs it: (exit code, stderr)."""
    from {{ name }}.aqcli_{{ name }} import main

    connection = ["-s", "127.0.0.1", "-p", str(served.port)]
    monkeypatch.setattr("sys.argv", [CLIENT, *connection,
                                     *arguments])
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("samples, suffix", [(1_000_000, ".npy"),
                                             (1000, ".csv")])
def test_the_client_moves_a_waveform_through_files(
        served, monkeypatch, capsys, tmp_path, samples, suffix):
    waveform = numpy.random.default_rng(samples).standard_normal(samples)
    uploaded, acquired = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".npy":
        numpy.save(uploaded, waveform)
    else:
        numpy.savetxt(uploaded, waveform, delimiter=",")
    # Standard error may show a progress bar, and nothing else.
    code, stderr = run_client(served, monkeypatch, capsys, "upload",
                              str(uploaded))
    assert code == 0 and "error" not in stderr, stderr
    code, stderr = run_client(served, monkeypatch, capsys, "acquire",
                              str(samples), "-o", str(acquired))
    assert code == 0 and "error" not in stderr, stderr
    back = (numpy.load(acquired) if suffix == ".npy"
            else numpy.loadtxt(acquired, delimiter=","))
    assert numpy.array_equal(back, waveform)


def test_an_unwritable_output_is_one_line_naming_it(served, monkeypatch,
                                                    capsys, tmp_path):
    path = tmp_path / "missing" / "out.npy"
    assert run_client(served, monkeypatch, capsys, "acquire", "3", "-o",
                      str(path)) == (1, f"{CLIENT}: error: {path}: "
                                        "cannot write it: No such file or "
                                        "directory\n")


def checksum(served):
    client = served.client()
    try:
        return client.checksum()
    finally:
        client.close_rpc()


@pytest.mark.parametrize("name, write, message", [
    ("complex.npy", lambda path: numpy.save(path, numpy.array([1.0, 1j])),
     "upload: TypeError: a waveform is float64 samples: complex128 does "
     "not cast to float64"),
    ("empty.csv", lambda path: path.write_text(""), "empty.csv: is empty"),
])
def test_a_file_the_device_cannot_take_leaves_the_previous_waveform(
        served, monkeypatch, capsys, tmp_path, name, write, message):
    bulk.upload(method="upload", data=numpy.arange(4.0),
                **bulk_arguments(served))
    write(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    code, stderr = run_client(served, monkeypatch, capsys, "upload", name)
    assert (code, stderr) == (1, f"{CLIENT}: error: {message}\n")
    assert checksum(served) == 6.0


def test_an_acquisition_replaces_a_file_only_with_f(served, monkeypatch,
                                                    capsys, tmp_path):
    bulk.upload(method="upload", data=numpy.arange(4.0),
                **bulk_arguments(served))
    path = tmp_path / "TRACE.NPY"
    path.write_text("precious")
    assert run_client(served, monkeypatch, capsys, "acquire", "6", "-o",
                      str(path)) == (1, f"{CLIENT}: error: {path}: "
                                        "exists: give -f to replace it\n")
    assert path.read_text() == "precious"
    code, stderr = run_client(served, monkeypatch, capsys, "acquire", "6",
                              "-o", str(path), "-f")
    assert code == 0 and "error" not in stderr, stderr
    assert list(numpy.load(path)) == [0, 1, 2, 3, 0, 1]
    assert sorted(tmp_path.iterdir()) == [path]
