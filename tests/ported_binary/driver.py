"""The driver of a Thorlabs T-Cube, a TPZ001 piezo driver or a TDC001 DC
servo motor controller, over Thorlabs' APT binary protocol.

An APT frame is a 6-byte header, little-endian: the message id (uint16),
then either two parameter bytes or, when the destination byte has 0x80
set, the length of the data that follows (uint16); then the destination
and the source address. Each reply has its own data length, checked here
against the header before a byte of the data is read.

-P/--product (the controller's add_device_options) reaches ``open()`` as
``options.product`` and chooses the class: :class:`Tpz001` or
:class:`Tdc001`. Both serve the same methods; only what ``set_output``
means differs (volts, or millimetres).
"""

import logging
import struct

logger = logging.getLogger(__name__)

HOST, DEVICE = 0x01, 0x50  # APT addresses: this computer; a USB T-Cube
HAS_DATA = 0x80  # in the destination byte: data follow the header
HEADER = struct.Struct("<HHBB")  # id, parameters or length, dest, source
CHANNEL = 1
# Frames the device sends unasked (status updates) skipped while waiting
# for a reply: a device that chatters cannot hold a call forever.
MAX_SKIPPED = 8
# Seconds of silence that end the greeting.
GREETING_QUIET = 0.25

HW_REQ_INFO, HW_GET_INFO = 0x0005, 0x0006
HW_RESPONSE, HW_RICHRESPONSE = 0x0080, 0x0081
MOD_SET_CHANENABLESTATE = 0x0210
MOD_REQ_CHANENABLESTATE, MOD_GET_CHANENABLESTATE = 0x0211, 0x0212
MOT_REQ_POSCOUNTER, MOT_GET_POSCOUNTER = 0x0411, 0x0412
MOT_MOVE_ABSOLUTE, MOT_MOVE_COMPLETED = 0x0453, 0x0464
MOT_GET_STATUSUPDATE = 0x0481
PZ_SET_OUTPUTVOLTS = 0x0643
PZ_REQ_OUTPUTVOLTS, PZ_GET_OUTPUTVOLTS = 0x0644, 0x0645
PZ_GET_PZSTATUSUPDATE = 0x0661
PZ_REQ_TPZ_IOSETTINGS, PZ_GET_TPZ_IOSETTINGS = 0x07D5, 0x07D6

# The data length of each frame the device may send (None: header only).
REPLY_DATA = {
    HW_GET_INFO: 84, HW_RESPONSE: None, HW_RICHRESPONSE: 68,
    MOD_GET_CHANENABLESTATE: None, MOT_GET_POSCOUNTER: 6,
    MOT_MOVE_COMPLETED: 14, MOT_GET_STATUSUPDATE: 14,
    PZ_GET_OUTPUTVOLTS: 4, PZ_GET_PZSTATUSUPDATE: 10,
    PZ_GET_TPZ_IOSETTINGS: 10,
}
# HW_GET_INFO: serial number, model, type, firmware (minor, interim,
# major, 0), notes, 12 bytes unused, hardware version, state, channels.
INFO = struct.Struct("<I8sH4s48s12xHHH")


class ProtocolError(Exception):
    """The device sent what is not an APT reply: out of step."""


class DeviceError(Exception):
    """The device reported an error (HW_RESPONSE, HW_RICHRESPONSE)."""


def frame(message, param1=0, param2=0, data=None):
    """One frame to the device: header only, or header and ``data``."""
    if data is None:
        return struct.pack("<HBBBB", message, param1, param2, DEVICE, HOST)
    return HEADER.pack(message, len(data), DEVICE | HAS_DATA, HOST) + data


def data_length(header):
    """The data length that follows ``header`` (a reply's), checked."""
    message, length, destination, source = HEADER.unpack(header)
    if message not in REPLY_DATA or source != DEVICE or \
            destination & ~HAS_DATA != HOST:
        raise ProtocolError(f"not an APT reply: {header.hex(' ')}")
    expected = REPLY_DATA[message]
    if expected is None:
        if destination & HAS_DATA:
            raise ProtocolError(f"message 0x{message:04x} carries no data")
        return 0
    if not destination & HAS_DATA or length != expected:
        raise ProtocolError(f"message 0x{message:04x} carries {expected} "
                            f"bytes, not {header.hex(' ')}")
    return length


class Tcube:
    """A Thorlabs T-Cube on channel 1: its identity, its channel's enable
    state, and its output (each product's own)."""

    PRODUCT = MODEL = None  # each product's: -P's name, HW_GET_INFO's

    @classmethod
    async def open(cls, transport, options):
        """The driver of the product that -P/--product names, on an
        opened ``transport``, once the device has said it is one."""
        driver = PRODUCTS[options.product](transport)
        transport.read_termination = None  # frames, not lines
        # What the device says on connect, which may come in pieces.
        await transport.discard(quiet=GREETING_QUIET)
        await driver._start()
        return driver

    def __init__(self, transport):
        self._transport = transport
        self._range = (0.0, 0.0)

    async def _start(self):
        """Check that the device is this product: a mistyped -P must not
        drive a piezo as a motor."""
        info = await self.hardware_info()
        if info["model"] != self.MODEL:
            raise ConnectionError(f"the device is a {info['model']!r}, not "
                                  f"a {self.MODEL} (-P/--product)")

    async def _receive(self):
        """The next frame from the device: (id, header, data)."""
        header = await self._transport.read_exactly(HEADER.size)
        try:
            length = data_length(header)
        except ProtocolError:
            # Out of step: drop the rest, so that the next call starts
            # on a frame.
            await self._transport.discard()
            raise
        data = await self._transport.read_exactly(length) if length else b""
        message = HEADER.unpack(header)[0]
        if message == HW_RESPONSE:
            raise DeviceError("the T-Cube reports a hardware error")
        if message == HW_RICHRESPONSE:
            code, notes = struct.unpack_from("<2xH64s", data)
            notes = notes.split(b"\0")[0].decode("ascii", "replace")
            raise DeviceError(f"the T-Cube reports error {code}: {notes}")
        return message, header, data

    async def _request(self, message, reply, data=None):
        """Send ``message`` (for channel 1); the frame ``reply``."""
        async with self._transport.exchange():
            await self._transport.write(frame(message, CHANNEL, data=data))
            for _ in range(MAX_SKIPPED + 1):
                got, header, data = await self._receive()
                if got == reply:
                    return header, data
                logger.debug("skipped a frame the device sent unasked: "
                             "0x%04x", got)
        raise ProtocolError(f"no reply 0x{reply:04x} among "
                            f"{MAX_SKIPPED + 1} frames")

    async def ping(self):
        """Return True while the T-Cube answers HW_REQ_INFO, else False.

        Never raises: artiq_ctlmgr restarts a controller whose ping fails.
        """
        try:
            await self._request(HW_REQ_INFO, HW_GET_INFO)
        except Exception:
            logger.info("the T-Cube did not answer", exc_info=True)
            return False
        return True

    async def product(self):
        """Return the product served: "tpz001" or "tdc001" (-P)."""
        return self.PRODUCT

    async def hardware_info(self):
        """Return the T-Cube's model, serial number and firmware version,
        as a dict."""
        _, data = await self._request(HW_REQ_INFO, HW_GET_INFO)
        serial, model, _, firmware, *_ = INFO.unpack(data)
        return {"model": model.split(b"\0")[0].decode("ascii", "replace"),
                "serial_number": serial,
                "firmware": "{2}.{1}.{0}".format(*firmware)}

    async def set_enabled(self, enabled: bool):
        """Enable (True) or disable (False) the output of channel 1."""
        await self._transport.write(
            frame(MOD_SET_CHANENABLESTATE, CHANNEL, 1 if enabled else 2))

    async def is_enabled(self):
        """Return whether the output of channel 1 is enabled."""
        header, _ = await self._request(MOD_REQ_CHANENABLESTATE,
                                        MOD_GET_CHANENABLESTATE)
        state = header[3]
        if state not in (1, 2):
            raise ProtocolError(f"enable state {state}: neither 1 nor 2")
        return state == 1

    async def output_range(self):
        """Return the output's range [low, high]: volts for the TPZ001
        (its voltage limit), millimetres of travel for the TDC001."""
        return list(self._range)

    async def set_output(self, value: float):
        """Set the output: the TPZ001's voltage, in volts (open loop), or
        move the TDC001 to ``value`` mm, and wait for the move's end."""
        low, high = self._range
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"the output is a number, not "
                            f"{type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"the output must be from {low} to {high}, "
                             f"not {value}")
        await self._set_output(value)

    async def get_output(self):
        """Return the output: volts (TPZ001) or position in mm (TDC001)."""
        return await self._get_output()

    async def close(self):
        """Release the device; the controller calls this once, on exit."""
        await self._transport.close()


class Tpz001(Tcube):
    """The TPZ001 piezo driver: the output is a voltage, up to the limit
    the device is set to, asked at start-up."""

    PRODUCT, MODEL = "tpz001", "TPZ001"
    VOLTAGE_LIMITS = {1: 75.0, 2: 100.0, 3: 150.0}
    FULL_SCALE = 32767

    async def _start(self):
        await super()._start()
        _, data = await self._request(PZ_REQ_TPZ_IOSETTINGS,
                                      PZ_GET_TPZ_IOSETTINGS)
        _, limit = struct.unpack_from("<HH", data)
        if limit not in self.VOLTAGE_LIMITS:
            raise ProtocolError(f"voltage limit code {limit}: not 1, 2, 3")
        self._range = (0.0, self.VOLTAGE_LIMITS[limit])

    async def _set_output(self, volts):
        step = round(volts / self._range[1] * self.FULL_SCALE)
        await self._transport.write(frame(
            PZ_SET_OUTPUTVOLTS, data=struct.pack("<Hh", CHANNEL, step)))

    async def _get_output(self):
        _, data = await self._request(PZ_REQ_OUTPUTVOLTS, PZ_GET_OUTPUTVOLTS)
        _, step = struct.unpack("<Hh", data)
        return step * self._range[1] / self.FULL_SCALE


class Tdc001(Tcube):
    """The TDC001 DC servo controller with a Z8 actuator: the output is a
    position, in millimetres. A move must end within --timeout."""

    PRODUCT, MODEL = "tdc001", "TDC001"
    COUNTS_PER_MM = 34304  # the Z8 actuators' encoder
    TRAVEL = 12.0  # mm

    async def _start(self):
        await super()._start()
        self._range = (0.0, self.TRAVEL)

    async def _set_output(self, mm):
        counts = round(mm * self.COUNTS_PER_MM)
        await self._request(MOT_MOVE_ABSOLUTE, MOT_MOVE_COMPLETED,
                            data=struct.pack("<Hi", CHANNEL, counts))

    async def _get_output(self):
        _, data = await self._request(MOT_REQ_POSCOUNTER, MOT_GET_POSCOUNTER)
        _, counts = struct.unpack("<Hi", data)
        return counts / self.COUNTS_PER_MM


PRODUCTS = {cls.PRODUCT: cls for cls in (Tpz001, Tdc001)}
