{%- set cls = cookiecutter.__driver_class -%}
{%- set def = "async def" if cookiecutter.driver_api == "asyncio" else "def" -%}
{%- set await = "await " if cookiecutter.driver_api == "asyncio" else "" -%}
"""The driver of a SCPI-style instrument, here a power supply.

The driver formats the commands and parses the replies; the transport
(transport.py, or simulation.py with --simulation) carries the lines.
Every public method is callable over RPC and shown by
``sipyco_rpctool list-methods``: give each a docstring, and no annotation
that sipyco cannot name (``-> None``, ``int | None``; sipyco#8). The
annotations ``int``, ``float``, ``str``, ``bool`` and ``list[float]`` also
type the arguments of the command-line client, when there is one.
"""

import logging

logger = logging.getLogger(__name__)

# The output voltage the instrument accepts, in volts.
VOLTAGE_RANGE = (0.0, 30.0)


class {{ cls }}:
    """A SCPI-style instrument with one setting, its output voltage."""

    def __init__(self, transport):
        self._transport = transport

    {{ def }} identify(self):
        """Return the instrument's identity: its reply to ``*IDN?``."""
        return {{ await }}self._transport.query("*IDN?")

    {{ def }} set_voltage(self, volts: float):
        """Set the output voltage, in volts, from 0 to 30."""
        low, high = VOLTAGE_RANGE
        if isinstance(volts, bool) or not isinstance(volts, (int, float)):
            raise TypeError(f"volts must be a number, not "
                            f"{type(volts).__name__}")
        if not low <= volts <= high:
            raise ValueError(f"volts must be from {low} to {high}, "
                             f"not {volts}")
        {{ await }}self._transport.write_line(f"VOLT {volts:.3f}")

    {{ def }} get_voltage(self):
        """Return the output voltage, in volts."""
        reply = {{ await }}self._transport.query("VOLT?")
        try:
            return float(reply)
        except ValueError:
            raise ValueError(f"malformed reply to VOLT?: {reply!r}") from None

    {{ def }} ping(self):
        """Return True while the instrument answers ``*IDN?``, else False.

        Never raises: artiq_ctlmgr restarts a controller whose ping fails.
        """
        try:
            return bool({{ await }}self.identify())
        except Exception:
            logger.warning("the instrument did not answer *IDN?",
                           exc_info=True)
            return False

    {{ def }} close(self):
        """Release the device; the controller calls this once, on exit."""
        {{ await }}self._transport.close()
