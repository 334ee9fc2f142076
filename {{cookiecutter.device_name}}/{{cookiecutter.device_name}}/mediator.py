{%- set cls = cookiecutter.__driver_class -%}
"""The {{ cookiecutter.device_name }} mediator: what an experiment uses.

A "type": "local" device_db entry builds it with ARTIQ's device manager,
from the names of the controller's entry and of a TTL output. Its host
methods call the controller over RPC; its kernels run on the core device
(or in ARTIQ's host simulator, artiq.sim). It imports ARTIQ, so it lives
apart from the driver and the controller, which run without ARTIQ.
"""

from artiq.language.core import kernel


class {{ cls }}Mediator:
    """The controller and the device's real-time trigger, side by side."""

    def __init__(self, dmgr, controller, trigger):
        self.core = dmgr.get("core")
        self.controller = dmgr.get(controller)
        self.trigger_ttl = dmgr.get(trigger)

    def ping(self):
        """Whether the controller answers: its driver's ping()."""
        return self.controller.ping()

    def describe(self):
        """The controller's RPC targets and description."""
        return self.controller.get_rpc_id()

    @kernel
    def trigger(self, duration=10e-6):
        """Pulse the trigger TTL for ``duration`` seconds (10 us), on the
        timeline: the real-time trigger the device acts on."""
        self.trigger_ttl.pulse(duration)
