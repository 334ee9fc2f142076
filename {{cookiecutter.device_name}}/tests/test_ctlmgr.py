"""The device_db entry under artiq_ctlmgr's own controller code."""

import asyncio
import logging
import pathlib
import runpy
import shlex
import sys

import pytest

from conftest import CONTROLLER_MODULE, NAME, SIPYCO_MISSING, free_port

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
ctlmgr = pytest.importorskip(
    "artiq_comtools.ctlmgr", reason="artiq-comtools is not installed: "
    "this test runs the controller under its artiq_ctlmgr code")

DEVICE_DB = pathlib.Path(__file__).parent.parent / "device_db.py"
# A second ping means the first succeeded: a failed one restarts it.
PINGS = 2


class Records(logging.Handler):
    """Keeps the messages artiq_ctlmgr logs."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def ctlmgr_entry():
    """This package's entry, pinged every 2 s on a free port.

    The console script may not be installed, so the command runs the module
    with this Python; the rest of the command is the entry's own.
    """
    entry = dict(runpy.run_path(str(DEVICE_DB))["device_db"][NAME])
    program, arguments = entry["command"].split(" ", 1)
    assert program == f"aqctl_{NAME}"
    entry["command"] = (f"{shlex.quote(sys.executable)} "
                        f"-m {CONTROLLER_MODULE} {arguments}")
    entry.update(host="127.0.0.1", port=free_port(), ping_timer=2.0)
    return entry


async def start_ping_stop(records):
    controllers = ctlmgr.Controllers(loop=asyncio.get_running_loop())
    controllers.host_filter = "127.0.0.1"
    controllers[NAME] = ctlmgr_entry()
    await controllers.queue.join()
    controller = controllers.active[NAME]
    while records.messages.count(f"pinging controller {NAME}") < PINGS:
        await asyncio.sleep(0.1)
    process = controller.process
    await controllers.shutdown()
    return process


def test_artiq_ctlmgr_starts_pings_and_stops_the_controller():
    records = Records()
    logger = logging.getLogger(ctlmgr.__name__)
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        process = asyncio.run(asyncio.wait_for(start_ping_stop(records), 30))
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    assert not [m for m in records.messages if "failed" in m], records.messages
    starts = [m for m in records.messages if m.startswith("Starting")]
    assert len(starts) == 1, starts
    assert f"Controller {NAME} terminated" in records.messages
    assert process.returncode == 0
