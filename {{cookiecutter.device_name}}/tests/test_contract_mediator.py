{%- set name = cookiecutter.device_name -%}
{%- set cls = cookiecutter.__driver_class -%}
"""Contract: the mediator, built by ARTIQ's own device manager from the
device_db.py as written; its host methods reach a running controller, its
kernel runs in ARTIQ's host simulator. And a controller-only host needs no
ARTIQ. These tests name no method of the example device."""

import importlib.util
import os
import pathlib
import re
import runpy
import subprocess
import sys

import pytest

from conftest import NAME, SIPYCO_MISSING, Controller

DEVICE_DB = pathlib.Path(__file__).parent.parent / "device_db.py"
MEDIATOR = f"{NAME}_mediator"
TRIGGER_TTL = f"ttl_{NAME}_trigger"


def artiq_importable():
    try:
        return importlib.util.find_spec("artiq.master.worker_db") is not None
    except ImportError:
        return False


needs_artiq = pytest.mark.skipif(
    not artiq_importable(), reason="artiq is not installed: the mediator "
    "is built by ARTIQ's device manager and runs in its host simulator")


@pytest.fixture
def without_artiq(tmp_path):
    """An environment in which `import artiq` fails, as on a host with
    the controller alone."""
    hidden = tmp_path / "hidden" / "artiq"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ImportError('artiq is hidden by this test')\n")
    path = os.pathsep.join([str(hidden.parent), os.getcwd()])
    return dict(os.environ, PYTHONPATH=path)


def test_the_package_imports_without_artiq(without_artiq):
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, {NAME}; "
         "assert 'artiq' not in sys.modules"],
        env=without_artiq, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_controller_serves_without_artiq(without_artiq):
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    controller = Controller("--simulation", env=without_artiq)
    assert controller.ping() is True
    code, _, stderr = controller.terminate_over_rpc()
    assert code == 0, stderr


@pytest.fixture
def device_manager(served, tmp_path):
    """ARTIQ's DeviceManager on device_db.py as written, the controller's
    port moved to the one the test's controller serves on."""
    from artiq.master.databases import DeviceDB
    from artiq.master.worker_db import DeviceManager

    device_db = runpy.run_path(str(DEVICE_DB))["device_db"]
    device_db[NAME]["port"] = served.port
    (tmp_path / "device_db.py").write_text(f"device_db = {device_db!r}\n")
    manager = DeviceManager(DeviceDB(str(tmp_path / "device_db.py")))
    yield manager
    manager.close_devices()


@needs_artiq
def test_the_device_manager_builds_the_mediator(device_manager):
    from {{ name }} import {{ cls }}Mediator

    mediator = device_manager.get(MEDIATOR)
    assert isinstance(mediator, {{ cls }}Mediator)


@needs_artiq
def test_host_methods_reach_the_controller(device_manager):
    mediator = device_manager.get(MEDIATOR)
    assert mediator.ping() is True
    targets, _ = mediator.describe()
    assert targets[0] == NAME


@needs_artiq
def test_the_kernel_pulses_the_ttl_on_the_simulated_timeline(
        device_manager, capsys):
    mediator = device_manager.get(MEDIATOR)
    capsys.readouterr()
    mediator.trigger(5e-6)
    # The host simulator prints the timeline once the kernel has run: an
    # event per line, "@<time> (+<since the last>) <what> <device> <value>"
    # in columns of 16 characters that a long device name fills.
    timeline = capsys.readouterr().out
    assert re.search(rf"^@0\.0+ \S+ +pulse +{TRIGGER_TTL} *5e-06 *$",
                     timeline, re.MULTILINE), timeline
