"""--simulation: an instrument in software at the other end of a real
transport.

The driver runs unchanged against it, its framing, formatting and parsing
included; only the device is software. A project's ``fake_device.py``
subclasses :class:`FakeDevice` (bytes in, bytes out) or, for a line
protocol, :class:`LineDevice` (a line in, a reply line out).
"""

import collections


class FakeDevice:
    """An instrument in software: override :meth:`received`.

    ``greeting``: what it sends as a connection opens.
    """

    greeting = b""

    @classmethod
    def from_options(cls, options):
        """The device --simulation fakes; ``options``: the device options
        by name, as the driver's open() gets them (``options.product`` to
        fake the product -P names)."""
        return cls()

    def received(self, data):
        """What the device sends back for ``data`` (bytes), as bytes;
        ``data`` may be part of a command, or several."""
        return b""


class LineDevice(FakeDevice):
    """A line-protocol instrument in software: override :meth:`handle`."""

    terminator = b"\n"
    encoding = "ascii"

    def handle(self, line):
        """The reply (text) to one command ``line``, or None for none."""
        return None

    def received(self, data):
        # Kept on first use: a subclass's __init__ need not call this one's.
        pending = self.__dict__.get("_pending", b"") + data
        *lines, self._pending = pending.split(self.terminator)
        replies = b""
        for line in lines:
            reply = self.handle(line.decode(self.encoding, "replace")
                                .removesuffix("\r"))
            if reply is not None:
                replies += reply.encode(self.encoding) + self.terminator
        return replies


class SimulatedLink:
    """A link to a FakeDevice: what it sends is there to receive at once;
    a reply it does not send times out at once too."""

    can_poll = True
    read_termination = None
    name = "the simulated device"

    def __init__(self, device):
        self._device = device
        self._incoming = collections.deque()
        self._closed = False
        self._arrived(device.greeting)

    def send(self, data):
        self._check_open()
        self._arrived(self._device.received(bytes(data)))

    def receive(self, wait, wanted):
        self._check_open()
        return self._incoming.popleft() if self._incoming else b""

    def close(self):
        self._closed = True

    def _arrived(self, data):
        if data:
            self._incoming.append(bytes(data))

    def _check_open(self):
        if self._closed:
            raise OSError("the simulated device is closed")
