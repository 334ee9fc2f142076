"""A SCPI-style instrument in software, behind --simulation.

This file is yours: the instrument the simulated transport talks to, so
that the driver's own formatting and parsing run without hardware. When
you port the driver to your instrument, make this answer what yours
answers.
"""

from .ndsp_runtime.simulated import LineDevice


class FakeDevice(LineDevice):
    """A SCPI-style instrument in software.

    It identifies itself, holds its output voltage, and answers what a real
    one answers: nothing to a command it does not know or a value it cannot
    take, which it queues in its error queue (SYST:ERR?) instead.
    """

    IDENTITY = "ndsp-template,simulated instrument,0,1.0"
    VOLTAGE_RANGE = (0.0, 30.0)

    def __init__(self):
        self.voltage = 0.0
        self.errors = []
        # The samples the waveform memory holds, and the last acquisition.
        self.points = {"WAV:POIN": 0, "ACQ:POIN": 0}

    def handle(self, line):
        """The reply to one command line, or None when it sends none."""
        header, _, argument = line.strip().partition(" ")
        header = header.upper()
        if header == "*IDN?":
            return self.IDENTITY
        if header == "VOLT?":
            return f"{self.voltage:.3f}"
        if header == "VOLT":
            self._set_voltage(argument)
        elif header in ("WAV:POIN", "ACQ:POIN") and argument.isdigit():
            self.points[header] = int(argument)
        elif header == "SYST:ERR?":
            return self.errors.pop(0) if self.errors else '0,"No error"'
        else:
            self.errors.append('-113,"Undefined header"')
        return None

    def _set_voltage(self, argument):
        try:
            volts = float(argument)
        except ValueError:
            self.errors.append('-104,"Data type error"')
            return
        low, high = self.VOLTAGE_RANGE
        if not low <= volts <= high:
            self.errors.append('-222,"Data out of range"')
            return
        self.voltage = volts
