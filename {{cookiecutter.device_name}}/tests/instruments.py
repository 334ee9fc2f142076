"""Loopback instruments for the transport tests: a ``handle(line)``
function (the fake device's, or a faulty one) served the way a real
instrument answers, over TCP or a pseudo-terminal."""

import contextlib
import os
import select
import socket
import threading
import time


class Instrument:
    """Answers each line with ``handle(line)``; None is no answer.

    Replace ``handle`` to make the instrument misbehave; answer_late()
    makes it answer late, send_unasked() sends a line nobody asked for.
    """

    def __init__(self, handle):
        self.handle = handle
        # Set once the last late reply has been sent in full.
        self.late_reply_sent = threading.Event()
        self._late = []  # (delay, bytes sent on time) of the next replies

    def answer_late(self, delay, on_time=0):
        """Send the next reply ``delay`` seconds late, as a busy instrument
        does (it reads nothing meanwhile); its first ``on_time`` bytes go on
        time, as a reply cut short at a timeout."""
        self.late_reply_sent.clear()
        self._late.append((delay, on_time))

    def respond(self, line, send):
        """Answer one line received, through ``send(bytes)``."""
        reply = self.handle(line.decode("ascii").rstrip("\r\n"))
        if reply is None:
            return
        reply = reply.encode("ascii") + b"\n"
        if not self._late:
            send(reply)
            return
        delay, on_time = self._late.pop(0)
        send(reply[:on_time])
        time.sleep(delay)
        send(reply[on_time:])
        self.late_reply_sent.set()


class TCPInstrument(Instrument):
    """On a free loopback port; ``address`` is its host:port."""

    def __init__(self, handle):
        super().__init__(handle)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def unplug(self):
        """Close every connection, as an instrument switched off does;
        it accepts new ones, as once it is back on."""
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()

    def _accept(self):
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,),
                             daemon=True).start()

    def send_unasked(self, line):
        """Send ``line`` on every connection, unasked."""
        for connection in self._connections:
            connection.sendall(line.encode("ascii") + b"\n")

    def _serve(self, connection):
        # An unplug() resets the connection under it.
        with contextlib.suppress(OSError), connection, \
                connection.makefile("rb") as lines:
            for line in lines:
                self.respond(line, connection.sendall)

    def close(self):
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()


class PtyInstrument(Instrument):
    """At the far end of a pseudo-terminal; ``address`` is the near end, a
    serial port to pyserial."""

    def __init__(self, handle):
        import tty  # POSIX only, as pseudo-terminals are

        super().__init__(handle)
        self._far, self._near = os.openpty()
        tty.setraw(self._near)  # no echo, no line editing
        self.address = os.ttyname(self._near)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        received = b""
        while not self._closed:
            # Wakes up now and then to see whether it is to stop.
            if not select.select([self._far], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self._far, 1024)
            except OSError:  # every near end closed
                return
            if self._closed or not data:
                return
            received += data
            while b"\n" in received:
                line, _, received = received.partition(b"\n")
                self.respond(line, self._write)

    def _write(self, data):
        while data:
            data = data[os.write(self._far, data):]

    def send_unasked(self, line):
        """Send ``line`` to the near end, unasked."""
        self._write(line.encode("ascii") + b"\n")

    def unplug(self):
        """Hang up, as a USB serial adapter pulled out does: the near end
        reads an error from then on."""
        self.close()

    def close(self):
        """Stop serving before the far end's descriptor is closed: its
        number is soon another pseudo-terminal's, which this must not
        answer."""
        if self._closed:
            return
        self._closed = True
        os.close(self._near)
        self._thread.join(5)
        os.close(self._far)
