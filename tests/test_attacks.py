"""A generated controller under the attacks of issue 16 (tests/attacks.py),
with its limits scaled down so that each is reached in a second: every
attack ends with an error to its client or its connection closed, the
controller's memory stays within what its limits allow, ping() answers
within a second throughout, and once the attackers are gone the memory
falls back. bench/soak.py runs the same at full scale, for minutes."""

import sys

import pytest

from conftest import HAS_SIPYCO

if not HAS_SIPYCO:
    pytest.skip("sipyco is not installed: the attacks are on a controller "
                "served by the real sipyco", allow_module_level=True)
if not sys.platform.startswith("linux"):
    pytest.skip("the controller's memory is read from Linux's /proc",
                allow_module_level=True)

import attacks  # noqa: E402
from attacks import MIB  # noqa: E402

ARRAY_MIB, CONNECTION_MIB, TOTAL_MIB = 32, 64, 128
# Seconds: longer than staging the five uploads takes on a busy machine
# (the first ones idle meanwhile, holding what they staged).
IDLE_TIMEOUT = 5
LIMITS = ["--max-array-mib", str(ARRAY_MIB),
          "--max-connection-mib", str(CONNECTION_MIB),
          "--max-total-mib", str(TOTAL_MIB),
          "--max-connections", "50", "--idle-timeout", str(IDLE_TIMEOUT)]
# What the limits let clients hold, and what one array costs while its
# reply is encoded and sent (its base64, and the send buffer's copy).
BOUND = (TOTAL_MIB + 4 * ARRAY_MIB) * MIB
SETTLED = 100 * MIB
ARRAY_SAMPLES = ARRAY_MIB * MIB // 8


@pytest.fixture(scope="module")
def attacked(render, tmp_path_factory):
    """The default project with the client, its controller attacked in
    turn; what each attacker got, and what the watch saw."""
    project = render(include_client=True)
    controller = attacks.Controller(project, "hello", *LIMITS)
    marker = tmp_path_factory.mktemp("eval") / "ran"
    outcomes = {}
    try:
        with attacks.Watch(controller) as watch:
            for name, attack in [
                    ("staged", lambda: attacks.staged_uploads(
                        controller, 5, ARRAY_SAMPLES)),
                    ("over the array limit", lambda: attacks.staged_uploads(
                        controller, 1, ARRAY_SAMPLES + 1)),
                    ("huge", lambda: attacks.huge_requests(controller)),
                    ("unread", lambda: attacks.unread_fetches(
                        controller, ARRAY_SAMPLES // 2)),
                    ("abandoned", lambda: attacks.abandoned_calls(
                        controller, 40, ARRAY_SAMPLES // 2)),
                    ("idle", lambda: attacks.idle_connections(
                        controller, 300)),
                    ("eval", lambda: attacks.eval_requests(
                        controller, marker))]:
                outcomes[name], kept = attack()
                if name == "unread":  # until the idle timeout closes it
                    outcomes["unread closed"] = attacks.closed_after(
                        kept[0][0], IDLE_TIMEOUT + 1.0)
                attacks.release(kept)
            settled = attacks.settle(controller, watch.start, 10.0)
    finally:
        code, log = controller.stop()
    return dict(outcomes=outcomes, watch=watch, settled=settled, code=code,
                marker=marker, log=log)


def test_staged_uploads_stop_at_the_total(attacked):
    staged = attacked["outcomes"]["staged"]
    assert staged[:4] == ["served"] * 4  # 4 x 32 MiB: the total
    assert "--max-total-mib" in staged[4]


def test_an_upload_over_the_array_limit_is_refused(attacked):
    [outcome] = attacked["outcomes"]["over the array limit"]
    assert "--max-array-mib" in outcome


def test_a_huge_request_is_refused_on_every_target(attacked):
    assert all("more than an acquisition holds" in outcome
               for outcome in attacked["outcomes"]["huge"])


def test_a_client_that_never_reads_is_closed(attacked):
    assert attacked["outcomes"]["unread closed"] is True


def test_eval_never_runs(attacked):
    assert attacked["outcomes"]["eval"] == ["refused", "refused"]
    assert not attacked["marker"].exists()


def test_ping_answers_within_a_second_throughout(attacked):
    watch = attacked["watch"]
    assert len(watch.pings) > 20
    assert watch.wrong_answers() == 0
    assert watch.slowest_ping() < 1.0


def test_memory_stays_within_the_limits_and_falls_back(attacked):
    watch = attacked["watch"]
    assert watch.peak - watch.start < BOUND, (watch.start, watch.peak)
    assert attacked["settled"] - watch.start < SETTLED


def test_the_log_holds_no_traceback_and_the_controller_stops_cleanly(
        attacked):
    assert attacked["code"] == 0, attacked["log"]
    assert "Traceback" not in attacked["log"]
