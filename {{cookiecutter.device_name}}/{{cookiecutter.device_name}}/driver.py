{%- set def = "async def" if cookiecutter.driver_api == "asyncio" else "def" -%}
{%- set cls = cookiecutter.__driver_class -%}
"""Driver for the {{ cls }} device and its simulation.

Every public method is callable over RPC and shown by
``sipyco_rpctool list-methods``: give each a docstring, and no annotation
that sipyco cannot name (``-> None``, ``int | None``; sipyco#8).
"""

import logging
import os
import sys

logger = logging.getLogger(__name__)

# The device name that means this process's own standard output.
CONSOLE = "console"


def _open_existing(path, flags):
    """open()'s opener that never creates: a mistyped or unplugged
    /dev/ttyUSB0 must fail, not become a regular file."""
    return os.open(path, flags & ~os.O_CREAT)


def _console_line(msg):
    """The line the console shows for ``msg``; refuses anything but text."""
    if not isinstance(msg, str):
        raise TypeError(f"msg must be a str, not {type(msg).__name__}")
    return "message: " + msg


class {{ cls }}:
    """Prints the messages it is sent on a console.

    ``device`` is "console" for the controller's standard output, or the path
    of an existing terminal or file to print on.
    """

    def __init__(self, device):
        if device == CONSOLE:
            self._output = sys.stdout
        else:
            self._output = open(device, "a", encoding="utf-8",
                                opener=_open_existing)
        logger.info("printing on %s", device)

    {{ def }} message(self, msg):
        """Print the text ``msg`` on the console as "message: <msg>"."""
        print(_console_line(msg), file=self._output, flush=True)

    {{ def }} ping(self):
        """Return True while the device answers (artiq_ctlmgr calls this)."""
        return not self._output.closed

    {{ def }} close(self):
        """Release the device; the controller calls this once, on exit."""
        if self._output is not sys.stdout:
            self._output.close()


class {{ cls }}Sim:
    """Simulation: prints what the device would, needs no hardware."""

    def __init__(self):
        self._closed = False
        logger.info("simulating the device")

    {{ def }} message(self, msg):
        """Print the text ``msg`` as the device would, marked as simulated."""
        print("[simulation] " + _console_line(msg), flush=True)

    {{ def }} ping(self):
        """Return True until the simulated device is closed."""
        return not self._closed

    {{ def }} close(self):
        """Close the simulated device."""
        self._closed = True
