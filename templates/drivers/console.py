{%- set cls = cookiecutter.__driver_class -%}
{%- set def = "async def" if cookiecutter.driver_api == "asyncio" else "def" -%}
{%- set await = "await " if cookiecutter.driver_api == "asyncio" else "" -%}
"""The driver of the console of ARTIQ's NDSP tutorial.

The driver formats the lines; the transport (transport.py, or
simulation.py with --simulation) carries them.
Every public method is callable over RPC and shown by
``sipyco_rpctool list-methods``: give each a docstring, and no annotation
that sipyco cannot name (``-> None``, ``int | None``; sipyco#8). The
annotations ``int``, ``float``, ``str``, ``bool`` and ``list[float]`` also
type the arguments of the command-line client, when there is one.
"""

import numpy


def _console_line(msg):
    """The line the console shows for ``msg``; refuses anything but text."""
    if not isinstance(msg, str):
        raise TypeError(f"msg must be a str, not {type(msg).__name__}")
    return "message: " + msg


def _checked_waveform(data):
    """``data`` as a one-dimensional float64 array of finite samples."""
    waveform = numpy.array(data, dtype=numpy.float64)
    if waveform.ndim != 1:
        raise ValueError(f"a waveform is one-dimensional, not "
                         f"{waveform.ndim}-dimensional")
    if not numpy.isfinite(waveform).all():
        raise ValueError("a waveform holds finite samples only")
    return waveform


class {{ cls }}:
    """Prints the messages it is sent on a console."""

    def __init__(self, transport):
        self._transport = transport
        self._closed = False
        self._waveform = numpy.zeros(0)  # the waveform memory

    {{ def }} message(self, msg: str):
        """Print the text ``msg`` on the console as "message: <msg>"."""
        {{ await }}self._transport.write_line(_console_line(msg))

    {{ def }} upload(self, data: numpy.ndarray):
        """Load ``data``, float64 samples (any number of them), into the
        waveform memory, in place of what it held."""
        waveform = _checked_waveform(data)
        {{ await }}self._transport.write_line(f"waveform: {len(waveform)} samples")
        self._waveform = waveform

    {{ def }} acquire(self, n: int) -> numpy.ndarray:
        """Acquire ``n`` float64 samples: the waveform memory, played in a
        loop (zeros while it is empty)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a whole number of samples, not "
                             f"{n!r}")
        {{ await }}self._transport.write_line(f"acquire: {n} samples")
        if not len(self._waveform):
            return numpy.zeros(n)
        return numpy.resize(self._waveform, n)

    {{ def }} checksum(self) -> float:
        """Return the sum of the samples in the waveform memory."""
        return float(self._waveform.sum())

    {{ def }} ping(self):
        """Return True until the device is closed (artiq_ctlmgr calls this);
        a console has nothing to ask."""
        return not self._closed

    {{ def }} close(self):
        """Release the device; the controller calls this once, on exit."""
        self._closed = True
        {{ await }}self._transport.close()
