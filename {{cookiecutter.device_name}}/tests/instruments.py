"""A loopback instrument for the device tests: a fake device of
fake_device.py (bytes in, bytes out) served on a TCP port, as a LAN
instrument answers; with faults to order."""

import contextlib
import socket
import threading
import time


class TCPInstrument:
    """Serves ``device`` on a free loopback port; ``address`` is its
    host:port for -d. It sends the device's greeting on each connection.

    ``mute = True`` makes it answer nothing; answer_late() makes it answer
    late; send_unasked() sends bytes nobody asked for; unplug() drops
    every connection, as an instrument switched off does.
    """

    def __init__(self, device):
        self.device = device
        self.mute = False
        # Set once the last late reply has been sent in full.
        self.late_reply_sent = threading.Event()
        self._late = []  # (delay, bytes sent on time) of the next replies
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def answer_late(self, delay, on_time=0):
        """Send the next reply ``delay`` seconds late, as a busy instrument
        does (it reads nothing meanwhile); its first ``on_time`` bytes go
        on time, as a reply cut short at a timeout."""
        self.late_reply_sent.clear()
        self._late.append((delay, on_time))

    def send_unasked(self, data):
        """Send ``data`` on every connection, unasked."""
        for connection in self._connections:
            connection.sendall(data)

    def unplug(self):
        """Close every connection; new ones are accepted, as once the
        instrument is back on."""
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()

    def close(self):
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()

    def _accept(self):
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,),
                             daemon=True).start()

    def _serve(self, connection):
        # An unplug() resets the connection under it.
        with contextlib.suppress(OSError), connection:
            if self.device.greeting:
                connection.sendall(self.device.greeting)
            while data := connection.recv(65536):
                reply = self.device.received(data)
                if reply and not self.mute:
                    self._send(connection, reply)

    def _send(self, connection, reply):
        if not self._late:
            connection.sendall(reply)
            return
        delay, on_time = self._late.pop(0)
        connection.sendall(reply[:on_time])
        time.sleep(delay)
        connection.sendall(reply[on_time:])
        self.late_reply_sent.set()
