"""The console in software, behind --simulation.

This file is yours: the instrument the simulated transport talks to, so
that the driver's own formatting runs without hardware. When you port
the driver to your instrument, make this answer what yours answers.
"""

from .ndsp_runtime.simulated import LineDevice


class FakeDevice(LineDevice):
    """A console in software: prints each line on this process's standard
    output, marked as simulated. Like a console, it never answers."""

    def handle(self, line):
        """Print ``line``; no reply."""
        print("[simulation] " + line, flush=True)
        return None
