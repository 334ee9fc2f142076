"""The driver of a 4-channel programmable RF attenuator.

It speaks a SCPI-like line protocol: ``ATT <channel>,<dB>`` and
``ATT? <channel>`` for the attenuation of one channel, ``OUTP ON|OFF`` and
``OUTP?`` for the RF output, ``SWEEP <dB>,<dB>,...;<dwell>`` and
``SWEEP:LEN?`` for a stepped sweep, ``SN?`` for the serial number.

The driver formats the commands and parses the replies; the transport
(the runtime's, or its simulated transport to fake_device.py with
--simulation) carries the lines.
Every public method is callable over RPC and shown by
``sipyco_rpctool list-methods``: give each a docstring, and no annotation
that sipyco cannot name (``-> None``, ``int | None``; sipyco#8).
"""

import logging

logger = logging.getLogger(__name__)

# The RF input ports, and the channels, numbered as on the front panel.
INPUT_PORTS = (1, 2)
CHANNELS = (1, 2, 3, 4)
# The attenuation each channel takes, in dB, and its step.
ATTENUATION_RANGE = (0.0, 31.5)
ATTENUATION_STEP = 0.5
# The time a sweep may dwell on each level, in seconds.
DWELL_RANGE = (0.001, 10.0)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_channel(channel):
    if not isinstance(channel, int) or isinstance(channel, bool):
        raise TypeError(f"channel must be an int, not "
                        f"{type(channel).__name__}")
    if channel not in CHANNELS:
        raise ValueError(f"channel must be from {CHANNELS[0]} to "
                         f"{CHANNELS[-1]}, not {channel}")


def _check_attenuation(db, name="db"):
    low, high = ATTENUATION_RANGE
    if not _is_number(db):
        raise TypeError(f"{name} must be a number, not {type(db).__name__}")
    if not low <= db <= high:
        raise ValueError(f"{name} must be from {low} to {high} dB, "
                         f"not {db}")
    if (db / ATTENUATION_STEP) % 1:
        raise ValueError(f"{name} must be a multiple of "
                         f"{ATTENUATION_STEP} dB, not {db}")


def _parse(reply, command, kind):
    try:
        return kind(reply)
    except ValueError:
        raise ValueError(f"malformed reply to {command}: {reply!r}") from None


class Hello:
    """A 4-channel programmable RF attenuator, 0 to 31.5 dB per channel."""

    @classmethod
    async def open(cls, transport, options):
        """The driver on an opened ``transport``, as the controller builds
        it."""
        return cls(transport)

    def __init__(self, transport):
        self._transport = transport

    async def serial_number(self):
        """Return the attenuator's serial number: its reply to ``SN?``."""
        return await self._transport.query("SN?")

    async def set_attenuation(self, channel: int, db: float):
        """Set one channel's attenuation.

        channel: 1 to 4. db: 0 to 31.5, in steps of 0.5 dB.
        """
        _check_channel(channel)
        _check_attenuation(db)
        await self._transport.write_line(f"ATT {channel},{db:.1f}")

    async def get_attenuation(self, channel: int):
        """Return one channel's attenuation, in dB; channel: 1 to 4."""
        _check_channel(channel)
        command = f"ATT? {channel}"
        reply = await self._transport.query(command)
        return _parse(reply, command, float)

    async def set_rf_enabled(self, enabled: bool):
        """Switch the RF output of all channels on (True) or off (False)."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, not "
                            f"{type(enabled).__name__}")
        await self._transport.write_line("OUTP ON" if enabled else "OUTP OFF")

    async def rf_enabled(self):
        """Return True while the RF output is on, else False."""
        reply = await self._transport.query("OUTP?")
        if reply not in ("0", "1"):
            raise ValueError(f"malformed reply to OUTP?: {reply!r}")
        return reply == "1"

    async def select_input(self, port: int):
        """Route RF input port 1 or 2 to the channels."""
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError(f"port must be an int, not {type(port).__name__}")
        if port not in INPUT_PORTS:
            raise ValueError(f"port must be 1 or 2, not {port}")
        await self._transport.write_line(f"INP {port}")

    async def selected_input(self):
        """Return the RF input port routed to the channels, 1 or 2."""
        return _parse(await self._transport.query("INP?"), "INP?", int)

    async def load_sweep(self, levels: list[float], dwell: float = 0.1):
        """Load a stepped sweep: the attenuation levels, in dB, in order.

        levels: one or more, each 0 to 31.5 in steps of 0.5 dB.
        dwell: the time on each level, in seconds, 0.001 to 10.
        """
        if isinstance(levels, str) or not isinstance(levels, (list, tuple)):
            raise TypeError(f"levels must be a list of numbers, not "
                            f"{type(levels).__name__}")
        if not levels:
            raise ValueError("levels must hold at least one level")
        for index, level in enumerate(levels):
            _check_attenuation(level, name=f"levels[{index}]")
        low, high = DWELL_RANGE
        if not _is_number(dwell):
            raise TypeError(f"dwell must be a number, not "
                            f"{type(dwell).__name__}")
        if not low <= dwell <= high:
            raise ValueError(f"dwell must be from {low} to {high} s, "
                             f"not {dwell}")
        points = ",".join(f"{level:.1f}" for level in levels)
        await self._transport.write_line(f"SWEEP {points};{dwell:.3f}")

    async def sweep_length(self):
        """Return the number of levels in the loaded sweep."""
        reply = await self._transport.query("SWEEP:LEN?")
        return _parse(reply, "SWEEP:LEN?", int)

    async def ping(self):
        """Return True while the attenuator answers ``SN?``, else False.

        Never raises: artiq_ctlmgr restarts a controller whose ping fails.
        """
        try:
            return bool(await self.serial_number())
        except Exception:
            logger.warning("the attenuator did not answer SN?",
                           exc_info=True)
            return False

    async def close(self):
        """Release the device; the controller calls this once, on exit."""
        await self._transport.close()
