"""aqctl_tcube: the ARTIQ controller of a Thorlabs T-Cube, a TPZ001 piezo
driver or a TDC001 DC servo controller (-P/--product).

This file is yours: the title, the default port (thorlabs_tcube's in the
ARTIQ manual), the -P option, and the driver and the fake T-Cube to
build. The rest is the generic runtime's, ndsp_runtime/controller.py.
"""

from .driver import PRODUCTS, Tcube
from .fake_device import FakeTCube
from .ndsp_runtime.controller import Controller

TITLE = "Thorlabs T-Cube"
DEFAULT_PORT = 3255


def add_device_options(group):
    """-P/--product: Tcube.open() gets it as ``options.product``."""
    group.add_argument(
        "-P", "--product", choices=sorted(PRODUCTS), default="tpz001",
        help="the T-Cube: %(choices)s (default: %(default)s)")


CONTROLLER = Controller(
    "tcube", TITLE, DEFAULT_PORT,
    driver=Tcube,
    fake_device=FakeTCube,
    add_device_options=add_device_options,
)
get_argparser = CONTROLLER.argparser
main = CONTROLLER.main

if __name__ == "__main__":
    main()
