"""The fake 4-channel RF attenuator, behind --simulation: this file
replaces the example's fake_device.py."""

from .ndsp_runtime.simulated import LineDevice


class FakeDevice(LineDevice):
    """A 4-channel programmable RF attenuator in software.

    It holds each channel's attenuation, the RF input and output switches
    and a loaded sweep, and answers what a real one answers: nothing to a
    command it does not know or a value it cannot take, which it queues in
    its error queue (SYST:ERR?) instead.
    """

    SERIAL_NUMBER = "ATT4-SIM-000123"
    CHANNELS = (1, 2, 3, 4)
    ATTENUATION_RANGE = (0.0, 31.5)
    ATTENUATION_STEP = 0.5
    DWELL_RANGE = (0.001, 10.0)

    UNDEFINED_HEADER = '-113,"Undefined header"'
    DATA_TYPE_ERROR = '-104,"Data type error"'
    OUT_OF_RANGE = '-222,"Data out of range"'
    NO_ERROR = '0,"No error"'

    def __init__(self):
        self.attenuation = {channel: 0.0 for channel in self.CHANNELS}
        self.rf_enabled = False
        self.input_port = 1
        self.sweep = []
        self.dwell = None
        self.errors = []

    def handle(self, line):
        """The reply to one command line, or None when it sends none."""
        header, _, argument = line.strip().partition(" ")
        header = header.upper()
        argument = argument.strip()
        if header == "SN?":
            return self.SERIAL_NUMBER
        if header == "ATT?":
            channel = self._channel(argument)
            if channel is None:
                return None
            return f"{self.attenuation[channel]:.1f}"
        if header == "OUTP?":
            return "1" if self.rf_enabled else "0"
        if header == "INP?":
            return str(self.input_port)
        if header == "SWEEP:LEN?":
            return str(len(self.sweep))
        if header == "SYST:ERR?":
            return self.errors.pop(0) if self.errors else self.NO_ERROR
        if header == "ATT":
            self._set_attenuation(argument)
        elif header == "OUTP":
            self._set_output(argument)
        elif header == "INP" and argument in ("1", "2"):
            self.input_port = int(argument)
        elif header == "INP":
            self.errors.append(self.OUT_OF_RANGE)
        elif header == "SWEEP":
            self._load_sweep(argument)
        else:
            self.errors.append(self.UNDEFINED_HEADER)
        return None

    def _channel(self, text):
        """The channel numbered by ``text``, or None, queueing an error."""
        try:
            channel = int(text)
        except ValueError:
            self.errors.append(self.DATA_TYPE_ERROR)
            return None
        if channel not in self.CHANNELS:
            self.errors.append(self.OUT_OF_RANGE)
            return None
        return channel

    def _level(self, text):
        """The attenuation in ``text``, in dB, or None, queueing an error."""
        try:
            db = float(text)
        except ValueError:
            self.errors.append(self.DATA_TYPE_ERROR)
            return None
        low, high = self.ATTENUATION_RANGE
        if not low <= db <= high or (db / self.ATTENUATION_STEP) % 1:
            self.errors.append(self.OUT_OF_RANGE)
            return None
        return db

    def _set_attenuation(self, argument):
        channel_text, comma, db_text = argument.partition(",")
        if not comma:
            self.errors.append(self.DATA_TYPE_ERROR)
            return
        channel = self._channel(channel_text)
        if channel is None:
            return
        db = self._level(db_text)
        if db is not None:
            self.attenuation[channel] = db

    def _set_output(self, argument):
        state = argument.upper()
        if state in ("ON", "1"):
            self.rf_enabled = True
        elif state in ("OFF", "0"):
            self.rf_enabled = False
        else:
            self.errors.append(self.DATA_TYPE_ERROR)

    def _load_sweep(self, argument):
        points, semicolon, dwell_text = argument.partition(";")
        if not semicolon or not points:
            self.errors.append(self.DATA_TYPE_ERROR)
            return
        levels = [self._level(point) for point in points.split(",")]
        if None in levels:
            return
        try:
            dwell = float(dwell_text)
        except ValueError:
            self.errors.append(self.DATA_TYPE_ERROR)
            return
        low, high = self.DWELL_RANGE
        if not low <= dwell <= high:
            self.errors.append(self.OUT_OF_RANGE)
            return
        self.sweep = levels
        self.dwell = dwell
