"""A generated controller left running under attack, at its default limits.

For some minutes, the attacks of issue 16 (tests/attacks.py: uploads
staged and never committed, requests for 800 MB, large replies pipelined
and never read, large calls abandoned, 1,100 idle connections, pyon v1
requests for eval) come round after round, while proper clients go on:
one pings as artiq_ctlmgr does, on a connection of its own, and one
uploads a waveform through bulk.py and checks every answer the
controller gives about it (checksum(), acquire()). Prints, against the
same controller's quiet first seconds: calls answered, wrong answers
(must be 0), calls refused by a limit, its peak memory against the bound
its limits give, its memory once the attackers are gone, and the slowest
ping(). Needs sipyco and NumPy, on Linux; run from the repository:

    python3 bench/soak.py [--minutes 3] [--quick]
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TEMPLATE = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE / "tests"))

import attacks  # noqa: E402
from attacks import MIB  # noqa: E402

# The defaults of ndsp_runtime.limits, and what they let clients hold:
# the total, and one largest array while its reply is encoded and sent.
ARRAY_MIB, TOTAL_MIB = 128, 512
BOUND = (TOTAL_MIB + 4 * ARRAY_MIB) * MIB
SETTLED = 100 * MIB
ARRAY = ARRAY_MIB * MIB // 8  # float64 samples
QUIET = 3.0  # seconds of the baseline, before any attack


def generate(folder):
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o",
         str(folder), str(TEMPLATE), "include_client=yes", "run_checks=no"],
        check=True, capture_output=True)
    return folder / "hello"


def rounds_of_attacks(controller, marker, scale):
    """One round: each attack in turn, what it kept released after."""
    samples = max(1, int(ARRAY * scale))
    for name, attack in [
            ("staged", lambda: attacks.staged_uploads(controller, 5,
                                                      samples)),
            ("huge", lambda: attacks.huge_requests(controller)),
            ("unread", lambda: attacks.unread_fetches(controller,
                                                      samples // 8)),
            ("abandoned", lambda: attacks.abandoned_calls(
                controller, 40, samples // 8)),
            ("idle", lambda: attacks.idle_connections(controller, 1100)),
            ("eval", lambda: attacks.eval_requests(controller, marker))]:
        outcomes, kept = attack()
        yield name, outcomes
        time.sleep(0.5)
        attacks.release(kept)


class Checker(threading.Thread):
    """A proper client of the waveform memory: upload, then every answer
    about it checked, over and over."""

    def __init__(self, controller):
        super().__init__()
        import numpy

        sys.path.insert(0, str(controller.project))
        from hello.ndsp_runtime import bulk

        self.bulk, self.numpy = bulk, numpy
        self.controller = controller
        self.answered = self.wrong = self.refused = self.failed = 0
        self.stopping = threading.Event()

    def run(self):
        numpy, port = self.numpy, self.controller.port
        generator = numpy.random.default_rng(16)
        while not self.stopping.is_set():
            data = generator.normal(size=int(generator.integers(1, 200_000)))
            try:
                self.bulk.upload("127.0.0.1", port, "upload", data)
                client = self.controller.client()
                try:
                    checksum = client.checksum()
                finally:
                    client.close_rpc()
                trace = self.bulk.download("127.0.0.1", port, "acquire",
                                           [2 * len(data)])
            except ValueError:  # a limit, reached by the attackers
                self.refused += 1
                continue
            except Exception:  # any other failure: counted
                self.failed += 1
                continue
            self.answered += 3
            self.wrong += (checksum != float(data.sum()))
            self.wrong += not numpy.array_equal(trace,
                                                numpy.resize(data,
                                                             2 * len(data)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true",
                        help="one minute, arrays an eighth of the limit")
    args = parser.parse_args()
    minutes, scale = (1.0, 0.125) if args.quick else (args.minutes, 1.0)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        controller = attacks.Controller(generate(folder), "hello")
        controller.project = folder / "hello"
        checker = Checker(controller)
        with attacks.Watch(controller) as watch:
            checker.start()
            time.sleep(QUIET)
            quiet_pings = list(watch.pings)
            quiet_peak = watch.peak
            rounds, outcomes = 0, {}
            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                for name, outcome in rounds_of_attacks(
                        controller, folder / "ran", scale):
                    outcomes[name] = outcome
                rounds += 1
            checker.stopping.set()
            checker.join()
            settled = attacks.settle(controller, watch.start, 30.0)
        code, log = controller.stop()
    return report(watch, quiet_pings, quiet_peak, checker, rounds,
                  outcomes, settled, code, log, folder / "ran")


def report(watch, quiet_pings, quiet_peak, checker, rounds, outcomes,
           settled, code, log, marker):
    attacked = watch.pings[len(quiet_pings):]
    quiet = [seconds for seconds, _ in quiet_pings]
    loud = [seconds for seconds, _ in attacked]
    print(f"{rounds} rounds of attacks; last outcomes:")
    for name, outcome in outcomes.items():
        print(f"  {name:<10} {'; '.join(sorted(set(outcome)))[:150]}")
    print(f"{'':<38} {'quiet':>12} {'attacked':>12}")
    print(f"{'ping() median':<38} {statistics.median(quiet) * 1e3:>9.1f} ms "
          f"{statistics.median(loud) * 1e3:>9.1f} ms")
    print(f"{'slowest ping() (target: under 1 s)':<38} "
          f"{max(quiet) * 1e3:>9.1f} ms {max(loud) * 1e3:>9.1f} ms")
    print(f"{'RSS, peak above start':<38} "
          f"{(quiet_peak - watch.start) / MIB:>8.0f} MiB "
          f"{(watch.peak - watch.start) / MIB:>8.0f} MiB "
          f"(bound: {BOUND / MIB:.0f} MiB)")
    print(f"RSS at start {watch.start / MIB:.0f} MiB; once the attackers "
          f"were gone {settled / MIB:.0f} MiB (target: within "
          f"{SETTLED / MIB:.0f} MiB)")
    print(f"calls answered {len(watch.pings) + checker.answered}, wrong "
          f"answers {watch.wrong_answers() + checker.wrong} (must be 0), "
          f"refused by a limit {checker.refused}, failed {checker.failed}")
    print(f"eval ran: {marker.exists()}; exit code {code}; tracebacks in "
          f"the log: {log.count('Traceback')}; log lines "
          f"{len(log.splitlines())}")
    misses = [miss for miss, failed in [
        ("a wrong answer", watch.wrong_answers() + checker.wrong),
        ("a failed call", checker.failed),
        ("a ping over 1 s", max(loud) >= 1.0),
        ("memory over the bound", watch.peak - watch.start >= BOUND),
        ("memory not given back", settled - watch.start >= SETTLED),
        ("eval ran", marker.exists()), ("a traceback", "Traceback" in log),
        ("an unclean exit", code != 0)] if failed]
    print("missed: " + ", ".join(misses) if misses else "every target met")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
