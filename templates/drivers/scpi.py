{%- set cls = cookiecutter.__driver_class -%}
{%- set def = "async def" if cookiecutter.driver_api == "asyncio" else "def" -%}
{%- set await = "await " if cookiecutter.driver_api == "asyncio" else "" -%}
{%- set waveform_command, acquire_command = "WAV:POIN", "ACQ:POIN" -%}
"""The driver of a SCPI-style instrument, here a power supply.

The driver formats the commands and parses the replies; the transport
(the runtime's, chosen by the address of -d, or its simulated transport
to fake_device.py with --simulation) carries the lines.
Every public method is callable over RPC and shown by
``sipyco_rpctool list-methods``: give each a docstring, and no annotation
that sipyco cannot name (``-> None``, ``int | None``; sipyco#8). The
annotations ``int``, ``float``, ``str``, ``bool`` and ``list[float]`` also
type the arguments of the command-line client, when there is one.
"""

{% if cookiecutter.driver_api == "asyncio" %}import asyncio
{% endif %}import logging
import math
{% if cookiecutter.driver_api != "asyncio" %}import time
{% endif %}
import numpy

logger = logging.getLogger(__name__)

# The output voltage the instrument accepts, in volts.
VOLTAGE_RANGE = (0.0, 30.0)
# A ramp moves the output in steps this many seconds apart.
RAMP_STEP = 0.1


def _check_volts(volts):
    """Refuse, before anything is sent, a voltage the instrument cannot
    take."""
    low, high = VOLTAGE_RANGE
    if isinstance(volts, bool) or not isinstance(volts, (int, float)):
        raise TypeError(f"volts must be a number, not "
                        f"{type(volts).__name__}")
    if not low <= volts <= high:
        raise ValueError(f"volts must be from {low} to {high}, not {volts}")


class {{ cls }}:
    """A SCPI-style instrument with one setting, its output voltage."""

    @classmethod
    {{ def }} open(cls, transport, options):
        """The driver on an opened ``transport``, as the controller builds
        it; ``options``: the device options by name (add_device_options()
        of the controller's file). A driver that must ask the device
        something first, or choose among products, does it here."""
        return cls(transport)

    def __init__(self, transport):
        self._transport = transport
        # The example keeps its waveform memory here, and tells the
        # instrument only its length: a real one takes the samples as a
        # binary block (IEEE 488.2 "#" block), written in upload().
        self._waveform = numpy.zeros(0)

    {{ def }} identify(self):
        """Return the instrument's identity: its reply to ``*IDN?``."""
        return {{ await }}self._transport.query("*IDN?")

    {{ def }} set_voltage(self, volts: float):
        """Set the output voltage, in volts, from 0 to 30."""
        _check_volts(volts)
        {{ await }}self._transport.write_line(f"VOLT {volts:.3f}")

    {{ def }} ramp_voltage(self, volts: float, rate: float = 10.0):
        """Move the output voltage to ``volts`` at ``rate`` volts per
        second, in steps of 0.1 s{{ ": other calls, ping() among them, are
        served meanwhile" if cookiecutter.driver_api == "asyncio" }}."""
        _check_volts(volts)  # before the first step
        if not rate > 0:
            raise ValueError(f"rate must be above 0, not {rate}")
        start = {{ await }}self.get_voltage()
        steps = max(1, math.ceil(abs(volts - start) / rate / RAMP_STEP))
        for step in range(1, steps + 1):
            {{ await }}self.set_voltage(start + (volts - start) * step / steps)
            {{ "await asyncio.sleep" if cookiecutter.driver_api == "asyncio" else "time.sleep" }}(RAMP_STEP)

    {{ def }} get_voltage(self):
        """Return the output voltage, in volts."""
        reply = {{ await }}self._transport.query("VOLT?")
        try:
            return float(reply)
        except ValueError:
            raise ValueError(f"malformed reply to VOLT?: {reply!r}") from None
{% include "drivers/waveform.py" %}
    {{ def }} ping(self):
        """Return True while the instrument answers ``*IDN?``, else False.

        Never raises: artiq_ctlmgr restarts a controller whose ping fails.
        """
        try:
            return bool({{ await }}self.identify())
        except Exception:
            # With -v: the caller (the controller at start, artiq_ctlmgr)
            # says that ping failed, in one line.
            logger.info("the instrument did not answer *IDN?",
                        exc_info=True)
            return False

    {{ def }} close(self):
        """Release the device; the controller calls this once, on exit."""
        {{ await }}self._transport.close()
