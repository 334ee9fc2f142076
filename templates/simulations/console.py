class FakeDevice:
    """A console in software: prints each line on this process's standard
    output, marked as simulated. Like a console, it never answers."""

    def handle(self, line):
        """Print ``line``; no reply."""
        print("[simulation] " + line, flush=True)
        return None
