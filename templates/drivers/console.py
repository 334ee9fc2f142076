{%- set cls = cookiecutter.__driver_class -%}
{%- set def = "async def" if cookiecutter.driver_api == "asyncio" else "def" -%}
{%- set await = "await " if cookiecutter.driver_api == "asyncio" else "" -%}
{%- set waveform_command, acquire_command = "waveform:", "acquire:" -%}
"""The driver of the console of ARTIQ's NDSP tutorial.

The driver formats the lines; the transport (the runtime's, chosen by
the address of -d, or its simulated transport to fake_device.py with
--simulation) carries them.
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


class {{ cls }}:
    """Prints the messages it is sent on a console."""

    @classmethod
    {{ def }} open(cls, transport, options):
        """The driver on an opened ``transport``, as the controller builds
        it; ``options``: the device options by name (add_device_options()
        of the controller's file). A driver that must ask the device
        something first, or choose among products, does it here."""
        return cls(transport)

    def __init__(self, transport):
        self._transport = transport
        self._closed = False
        self._waveform = numpy.zeros(0)  # the waveform memory

    {{ def }} message(self, msg: str):
        """Print the text ``msg`` on the console as "message: <msg>"."""
        {{ await }}self._transport.write_line(_console_line(msg))
{% include "drivers/waveform.py" %}
    {{ def }} ping(self):
        """Return True until the device is closed (artiq_ctlmgr calls this);
        a console has nothing to ask."""
        return not self._closed

    {{ def }} close(self):
        """Release the device; the controller calls this once, on exit."""
        self._closed = True
        {{ await }}self._transport.close()
