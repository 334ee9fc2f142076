"""A Thorlabs T-Cube in software, behind --simulation: a TPZ001 or a
TDC001, speaking APT frames (see driver.py).

Like a T-Cube behind some serial servers, it greets a connection with a
few bytes, which the driver discards in open(). A message it does not
know, or one for the other product, gets HW_RICHRESPONSE, an error frame.
"""

import struct

from .driver import (
    DEVICE, HAS_DATA, HEADER, HOST, HW_GET_INFO, HW_REQ_INFO,
    HW_RICHRESPONSE, INFO, MOD_GET_CHANENABLESTATE, MOD_REQ_CHANENABLESTATE,
    MOD_SET_CHANENABLESTATE, MOT_GET_POSCOUNTER, MOT_MOVE_ABSOLUTE,
    MOT_MOVE_COMPLETED, MOT_REQ_POSCOUNTER, PZ_GET_OUTPUTVOLTS,
    PZ_GET_TPZ_IOSETTINGS, PZ_REQ_OUTPUTVOLTS, PZ_REQ_TPZ_IOSETTINGS,
    PZ_SET_OUTPUTVOLTS)
from .ndsp_runtime.simulated import FakeDevice

# No request of ours carries more: a longer one is out of step.
MAX_REQUEST_DATA = 64


def reply(message, param1=0, param2=0, data=None):
    """A frame from the device to the computer."""
    if data is None:
        return struct.pack("<HBBBB", message, param1, param2, HOST, DEVICE)
    return HEADER.pack(message, len(data), HOST | HAS_DATA, DEVICE) + data


class FakeTCube(FakeDevice):
    """A T-Cube of ``product`` ("tpz001" or "tdc001"), set to a voltage
    limit of 150 V (a TPZ001's code 3)."""

    greeting = b"\x00\x00T-Cube APT ready\r\n"
    SERIAL_NUMBERS = {"tpz001": 81000001, "tdc001": 83000001}

    @classmethod
    def from_options(cls, options):
        """--simulation fakes the T-Cube that -P names."""
        return cls(options.product)

    def __init__(self, product="tpz001"):
        self.product = product
        self.enabled = False
        self.voltage_limit = 3
        self.volts_step = 0  # the output, in steps of the full scale
        self.counts = 0  # the motor's position, in encoder counts
        self._pending = bytearray()
        handlers = {HW_REQ_INFO: self._info,
                    MOD_SET_CHANENABLESTATE: self._set_enabled,
                    MOD_REQ_CHANENABLESTATE: self._enabled}
        handlers.update({
            "tpz001": {PZ_REQ_TPZ_IOSETTINGS: self._io_settings,
                       PZ_SET_OUTPUTVOLTS: self._set_volts,
                       PZ_REQ_OUTPUTVOLTS: self._volts},
            "tdc001": {MOT_MOVE_ABSOLUTE: self._move,
                       MOT_REQ_POSCOUNTER: self._position}}[product])
        self._handlers = handlers

    def received(self, data):
        """Replies to each whole frame in what has come so far."""
        self._pending += data
        replies = b""
        while len(self._pending) >= HEADER.size:
            message, length, destination, _ = HEADER.unpack_from(
                self._pending)
            size = length if destination & HAS_DATA else 0
            if size > MAX_REQUEST_DATA:
                self._pending.clear()  # out of step: start afresh
                break
            if len(self._pending) < HEADER.size + size:
                break
            frame = bytes(self._pending[:HEADER.size + size])
            del self._pending[:len(frame)]
            replies += self.handle(message, frame[:HEADER.size],
                                   frame[HEADER.size:])
        return replies

    def handle(self, message, header, data):
        """The reply to one frame (b"" for none)."""
        handler = self._handlers.get(message)
        if handler is None:
            notes = f"no message 0x{message:04x} on a {self.product}"
            return reply(HW_RICHRESPONSE, data=struct.pack(
                "<HH64s", message, 1, notes.encode("ascii")))
        return handler(header, data)

    def _info(self, header, data):
        return reply(HW_GET_INFO, data=INFO.pack(
            self.SERIAL_NUMBERS[self.product], self.product.upper().encode(),
            1, bytes([4, 0, 1, 0]), b"simulated", 1, 0, 1))

    def _set_enabled(self, header, data):
        self.enabled = header[3] == 1
        return b""

    def _enabled(self, header, data):
        return reply(MOD_GET_CHANENABLESTATE, 1, 1 if self.enabled else 2)

    def _io_settings(self, header, data):
        return reply(PZ_GET_TPZ_IOSETTINGS, data=struct.pack(
            "<HHHHH", 1, self.voltage_limit, 0, 0, 0))

    def _set_volts(self, header, data):
        _, self.volts_step = struct.unpack("<Hh", data)
        return b""

    def _volts(self, header, data):
        return reply(PZ_GET_OUTPUTVOLTS,
                     data=struct.pack("<Hh", 1, self.volts_step))

    def _move(self, header, data):
        _, self.counts = struct.unpack("<Hi", data)
        return reply(MOT_MOVE_COMPLETED, data=struct.pack(
            "<HiiI", 1, self.counts, self.counts, 0))

    def _position(self, header, data):
        return reply(MOT_GET_POSCOUNTER,
                     data=struct.pack("<Hi", 1, self.counts))
