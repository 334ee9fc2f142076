"""What one controller grants its clients, so that none of them can take
it down: memory, connections, time.

Every limit has a default that a lab's ordinary use stays far below and a
command-line option to change it (``add_arguments``). The memory a client
holds (an upload being staged, a result kept for reading in chunks, the
replies it has not read yet) is counted against its connection and
against the controller as a whole (``MemoryBudget``).
"""

import dataclasses

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    """The controller's limits (see add_arguments for what each means)."""

    max_array_bytes: int = 128 * MIB
    max_connection_bytes: int = 256 * MIB
    max_total_bytes: int = 512 * MIB
    max_connections: int = 100
    max_unread_replies: int = 8
    idle_timeout: float = 600.0
    handshake_timeout: float = 10.0
    allow_pyon_v1: bool = False


DEFAULTS = Limits()


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise ValueError(text)
        return value
    parse.__name__ = kind.__name__  # argparse names it in its error
    return parse


def add_arguments(parser):
    """The limits as a group of command-line options."""
    group = parser.add_argument_group(
        "limits", "what clients may take; a request over a limit is "
        "refused with an error to that client, and the controller goes on")
    group.add_argument(
        "--max-array-mib", type=_positive(float),
        default=DEFAULTS.max_array_bytes / MIB,
        help="the largest array, in MiB, that a call may upload or return "
             "(default: %(default)g)")
    group.add_argument(
        "--max-connection-mib", type=_positive(float),
        default=DEFAULTS.max_connection_bytes / MIB,
        help="MiB one connection may hold in the controller: staged "
             "uploads, kept results, unread replies (default: %(default)g)")
    group.add_argument(
        "--max-total-mib", type=_positive(float),
        default=DEFAULTS.max_total_bytes / MIB,
        help="MiB all connections together may hold (default: "
             "%(default)g)")
    group.add_argument(
        "--max-connections", type=_positive(int),
        default=DEFAULTS.max_connections,
        help="connections at once; when all are taken, a new one closes "
             "the one idle the longest (default: %(default)s)")
    group.add_argument(
        "--max-unread-replies", type=_positive(int),
        default=DEFAULTS.max_unread_replies,
        help="replies a client may leave unread before the controller "
             "stops reading its requests (default: %(default)s)")
    group.add_argument(
        "--idle-timeout", type=_positive(float),
        default=DEFAULTS.idle_timeout,
        help="seconds after which a connection that holds memory (an "
             "unfinished upload, a result not read, unread replies) and "
             "sends nothing is closed; others stay open however long "
             "they idle (default: %(default)g)")
    group.add_argument(
        "--allow-pyon-v1", action="store_true",
        help="also serve clients that do not announce pyon_v2 (sipyco "
             "before 1.10): their requests are decoded with eval, so "
             "anyone who reaches the port can run code here; off by "
             "default")


def from_arguments(args):
    """The Limits that the options of add_arguments() give."""
    return Limits(
        max_array_bytes=round(args.max_array_mib * MIB),
        max_connection_bytes=round(args.max_connection_mib * MIB),
        max_total_bytes=round(args.max_total_mib * MIB),
        max_connections=args.max_connections,
        max_unread_replies=args.max_unread_replies,
        idle_timeout=args.idle_timeout,
        allow_pyon_v1=args.allow_pyon_v1)


def check_array(limits, nbytes, what):
    """Raise ValueError if an array of ``nbytes`` is over the largest
    a call may upload or return."""
    if nbytes > limits.max_array_bytes:
        raise ValueError(
            f"{what} is {mib(nbytes)}, more than the "
            f"{mib(limits.max_array_bytes)} an array may be (the "
            f"controller's --max-array-mib)")


def mib(nbytes):
    """``nbytes`` as a person reads it: "12.5 MiB"."""
    return f"{nbytes / MIB:.4g} MiB"


class MemoryBudget:
    """The memory all connections hold, within ``limits``."""

    def __init__(self, limits):
        self.limits = limits
        self.held = 0

    def account(self):
        """A new connection's account."""
        return Account(self)


class Account:
    """The memory one connection holds, by purpose ("upload", "result",
    "replies"): each purpose holds one amount, replaced when it changes."""

    def __init__(self, budget):
        self._budget = budget
        self._held = {}

    @property
    def limits(self):
        return self._budget.limits

    @property
    def held(self):
        return sum(self._held.values())

    def hold(self, purpose, nbytes, what):
        """Hold ``nbytes`` for ``purpose`` in place of what it held; raise
        ValueError, changing nothing, if that is over a limit. ``what``
        names the request in the error. A ValueError, as every refusal
        here: sipyco gives a client built-in exceptions as they are."""
        limits = self._budget.limits
        change = nbytes - self._held.get(purpose, 0)
        if self.held + change > limits.max_connection_bytes:
            raise ValueError(
                f"{what} needs {mib(nbytes)}, and this connection may hold "
                f"{mib(limits.max_connection_bytes)} in all (the "
                f"controller's --max-connection-mib)")
        if self._budget.held + change > limits.max_total_bytes:
            raise ValueError(
                f"{what} needs {mib(nbytes)}, and the controller holds "
                f"{mib(self._budget.held)} of its "
                f"{mib(limits.max_total_bytes)} for all connections "
                f"(--max-total-mib): try again later")
        self._set(purpose, nbytes)

    def track(self, purpose, nbytes):
        """Count ``nbytes`` for ``purpose``, already held, unchecked (the
        replies in the send buffer, as they drain)."""
        self._set(purpose, nbytes)

    def release(self, purpose=None):
        """Give back what ``purpose`` holds, or everything."""
        for key in [purpose] if purpose else list(self._held):
            self._set(key, 0)

    def _set(self, purpose, nbytes):
        self._budget.held += nbytes - self._held.pop(purpose, 0)
        if nbytes:
            self._held[purpose] = nbytes
