"""The VISA transport: lines through pyvisa, with the pyvisa-py backend.

pyvisa is imported only when a device is opened, so that --simulation
needs nothing but sipyco.
"""

import threading

ADDRESS_HELP = ("a VISA resource: TCPIP::192.168.1.50::INSTR, "
                "TCPIP::192.168.1.50::5025::SOCKET, ASRL/dev/ttyUSB0::INSTR, "
                "USB0::0x1AB1::0x04CE::DS1ZA0000001::INSTR")
DEFAULT_VISA_LIBRARY = "@py"


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return [group.add_argument(
        "--visa-library", default=DEFAULT_VISA_LIBRARY,
        help="pyvisa backend (default: %(default)s, pyvisa-py)").dest]


class VisaTransport:
    """Lines to and from a VISA resource; each exchange holds the lock."""

    def __init__(self, resource, timeout, visa_errors):
        self._resource = resource
        self._timeout = timeout
        self._errors = visa_errors
        self._lock = threading.Lock()

    def write_line(self, line):
        with self._lock:
            self._resource.write(line)

    def read_line(self):
        with self._lock:
            return self._read()

    def query(self, line):
        """Send ``line`` and return the reply, with no other exchange
        in between."""
        with self._lock:
            self._resource.write(line)
            return self._read()

    def close(self):
        self._resource.close()

    def _read(self):
        try:
            return self._resource.read().rstrip("\r\n")
        except self._errors.VisaIOError as error:
            if error.error_code != self._errors.StatusCode.error_timeout:
                raise
            raise TimeoutError(f"{self._resource.resource_name} sent no "
                               f"reply within {self._timeout} s") from error


def open_transport(device, timeout, visa_library=DEFAULT_VISA_LIBRARY):
    """The VISA resource ``device``."""
    try:
        import pyvisa
    except ImportError as error:
        raise ImportError("the VISA transport needs pyvisa and pyvisa-py: "
                          "pip install pyvisa pyvisa-py") from error
    resource = pyvisa.ResourceManager(visa_library).open_resource(
        device, read_termination="\n", write_termination="\n",
        timeout=round(timeout * 1000))
    return VisaTransport(resource, timeout, pyvisa.errors)
