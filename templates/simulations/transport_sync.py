"""--simulation: a fake device behind the transport interface.

The driver runs unchanged against it, its own formatting and parsing
included; only the device at the other end is software.
"""

import collections
import threading


class SimulatedTransport:
    """Lines to and from a fake device, as a real transport carries them.

    Takes the same device options as the real transport, and ignores those
    a fake device has no use for (a baud rate).
    """

    def __init__(self, device, timeout, **options):
        self._device = device
        self._timeout = timeout
        self._replies = collections.deque()
        self._closed = False
        self._lock = threading.Lock()

    def write_line(self, line):
        with self._lock:
            self._send(line)

    def read_line(self):
        with self._lock:
            return self._receive()

    def query(self, line):
        """Send ``line`` and return the reply, with no other exchange
        in between."""
        with self._lock:
            self._send(line)
            return self._receive()

    def close(self):
        self._closed = True

    def _send(self, line):
        if self._closed:
            raise OSError("the simulated device is closed")
        reply = self._device.handle(line)
        if reply is not None:
            self._replies.append(reply)

    def _receive(self):
        if self._closed:
            raise OSError("the simulated device is closed")
        if not self._replies:
            raise TimeoutError(f"the simulated device sent no reply within "
                               f"{self._timeout} s")
        return self._replies.popleft()
