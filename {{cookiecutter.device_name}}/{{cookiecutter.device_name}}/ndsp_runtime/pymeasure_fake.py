"""The simulated pymeasure instrument behind --simulation: the real class
on a fake adapter built from the class's own command table.

A value written with a control's set command is stored, as the class
formatted it, and answered to the control's get command; before any
write, a query answers the first allowed value (or the range's lower
bound, or 0). The class's own formatting, validation and parsing run.
``*IDN?``, ``*OPC?`` and the error queue (``SYST:ERR?``) are answered as
by an instrument without errors; other writes are accepted.

What it cannot do: answer a query that is not a control's get command
(a measurement computed by the instrument answers the value it started
with; any other query is an error naming the command), acknowledge every
write (an instrument that sends a reply to each command), or send binary
replies. For those, give a pyvisa-sim YAML (``--simulation-yaml FILE``);
``python -m <name>.ndsp_runtime.pymeasure_fake CLASS`` writes a starting
one from the same table.
"""

import collections
import functools
import json
import re
import sys

from . import pymeasure_classes

# Each stored answer, and the pending reply, hold at most this much text:
# a client cannot make the controller grow by writing long values.
MAX_ANSWER = 4096
FORMAT = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGs]")
STANDARD_ANSWERS = {"*OPC?": "1", "SYST:ERR?": '0,"No error"',
                    ":SYST:ERR?": '0,"No error"',
                    "SYST:ERR:NEXT?": '0,"No error"'}


class NoAnswer(LookupError):
    """A query the simulated instrument has no answer for."""


def _commands(instrument_class):
    """(get command, set command, control) of the class and its channels,
    channel ids put in as pymeasure's Channel does."""
    owners = [(instrument_class, None)] + [
        (channel.cls, channel.id)
        for channel in pymeasure_classes.channels(instrument_class)]
    for owner, channel_id in owners:
        for control in pymeasure_classes.controls(owner):
            commands = [control.get_command, control.set_command]
            if channel_id is not None:
                commands = [None if command is None else
                            command.replace("{ch}", str(channel_id))
                            for command in commands]
            if any(command is not None and "{" in command
                   for command in commands):
                continue  # a placeholder only an instance fills in
            yield (*commands, control)


def initial_answer(control):
    """What a control answers before it is written: text its getter
    accepts."""
    values = control.values
    if isinstance(values, dict) and values:
        return str(next(iter(values.values())))
    if isinstance(values, (list, tuple, range)) and len(values):
        if control.map_values:
            return "0"
        return str(values[0])
    return "0"


def _set_pattern(set_command):
    parts = FORMAT.split(set_command)
    return re.compile("(.*?)".join(map(re.escape, parts)) + r"\Z",
                      re.DOTALL)


@functools.lru_cache(maxsize=None)
def _adapter_class():
    """FakeAdapter, made on first use: importing this module imports no
    pymeasure."""
    from pymeasure.adapters import Adapter

    return type("FakeAdapter", (FakeAnswers, Adapter), {
        "__doc__": "A pymeasure adapter that stores what is set and "
                   "answers it."})


def fake_adapter(instrument_class):
    """A pymeasure adapter holding the controls of ``instrument_class``."""
    return _adapter_class()(instrument_class)


class FakeAnswers:
    """The fake adapter's answers (its pymeasure Adapter base is added by
    _adapter_class)."""

    def __init__(self, instrument_class):
        super().__init__()
        self.instrument_class = instrument_class
        self.answers = dict(STANDARD_ANSWERS)
        self.answers["*IDN?"] = ("Simulated," + instrument_class.__name__
                                 + ",0,ndsp-template")
        self.setters = []
        for get_command, set_command, control in _commands(
                instrument_class):
            if get_command is not None:
                self.answers.setdefault(get_command,
                                        initial_answer(control))
            if set_command is not None and get_command is not None:
                self.setters.append((_set_pattern(set_command),
                                     get_command))
        self.pending = collections.deque(maxlen=1)

    def _write(self, command, **kwargs):
        command = command.strip()
        if command in self.answers:
            self.pending.append(self.answers[command])
            return
        for pattern, get_command in self.setters:
            match = pattern.match(command)
            if match:
                self.answers[get_command] = ",".join(
                    match.groups())[:MAX_ANSWER]
                return
        if command.endswith("?"):
            raise NoAnswer(
                f"the simulated {self.instrument_class.__name__} has no "
                f"answer for {command[:80]!r}: it answers the class's "
                "controls only; give --simulation-yaml for more")

    def _read(self, **kwargs):
        if not self.pending:
            raise NoAnswer(f"the simulated {self.instrument_class.__name__}"
                           " was asked to reply, but nothing was queried")
        return self.pending.pop()

    def flush_read_buffer(self):
        self.pending.clear()


def simulated_instrument(instrument_class, yaml_file=None):
    """An instance of ``instrument_class`` on a FakeAdapter, or, with
    ``yaml_file``, on pyvisa-sim's instrument of that file."""
    if yaml_file is None:
        return instrument_class(fake_adapter(instrument_class))
    try:
        with open(yaml_file, encoding="utf-8") as file:
            file.read(1)
    except OSError as error:
        raise OSError(f"cannot read --simulation-yaml {yaml_file}: "
                      f"{error.strerror or error}") from None
    # The file's messages end with a line feed, whatever the class's.
    return instrument_class(SIMULATED_RESOURCE,
                            visa_library=f"{yaml_file}@sim",
                            read_termination="\n", write_termination="\n")


SIMULATED_RESOURCE = "ASRL1::INSTR"


def round_trips(instrument_class):
    """(setter, getter, value, refused) for each control the fake holds:
    the served RPC methods, a value to set that reads back the same, and
    one its validator refuses (None where there is none)."""
    owners = [("", instrument_class)] + [
        (channel.attribute + "_", channel.cls)
        for channel in pymeasure_classes.channels(instrument_class)]
    found = []
    for prefix, owner in owners:
        for control in pymeasure_classes.controls(owner):
            if control.deprecated or not (control.readable and
                                          control.writable):
                continue
            value, refused = example_values(control)
            if value is not None:
                found.append((f"{prefix}set_{control.name}",
                              f"{prefix}get_{control.name}", value, refused))
    return found


def example_values(control):
    """A value of ``control`` that round-trips, and one refused; (None,
    None) where the declaration says too little to choose."""
    values = control.values
    name = getattr(control.validator, "__name__", "")
    strict = name.startswith("strict")  # truncated_range refuses none
    if isinstance(values, dict) and values:
        # A key another shares its value with reads back as the first.
        keys = list(values)
        mapped = list(values.values())
        unique = [key for key in keys if mapped.count(values[key]) == 1]
        return (unique or keys)[-1 if unique else 0], _not_among(keys)
    if isinstance(values, (list, tuple)) and len(values) == 2 and \
            name.endswith("range") and all(
                isinstance(bound, (int, float)) for bound in values):
        low, high = values
        if isinstance(low, int) and isinstance(high, int) and \
                "%d" in str(control.set_command):
            return (low + high) // 2, high + 1 if strict else None
        return (_round((low + high) / 2),
                high + abs(high) + 1 if strict else None)
    if isinstance(values, (list, tuple, range)) and len(values) and \
            name.endswith("set"):
        return values[-1], _not_among(values) if strict else None
    return None, None


def _round(number):
    return float(f"{number:.3g}")


def _not_among(values):
    values = list(values)
    if all(isinstance(value, str) for value in values):
        return "NOT_ALLOWED"
    numbers = [value for value in values if isinstance(value, (int, float))
               and not isinstance(value, bool)]
    return max(numbers) + 1 if numbers else None


def yaml_for(instrument_class):
    """A starting pyvisa-sim YAML: the class's controls as properties,
    on the resource --simulation-yaml opens."""
    lines = ['spec: "1.1"', "devices:", "  device 1:", "    eom:",
             "      ASRL INSTR:", '        q: "\\n"', '        r: "\\n"',
             # A command it does not know gets no reply (the class writes
             # some while it starts); a query it does not know, ERROR.
             "    error:", "      response:", '        query_error: "ERROR"',
             "    dialogues:",
             '      - q: "*IDN?"',
             f'        r: "Simulated,{instrument_class.__name__},0,yaml"',
             "    properties:"]
    for number, (get_command, set_command, control) in enumerate(
            _commands(instrument_class)):
        if get_command is None or set_command is None or \
                FORMAT.findall(set_command) != FORMAT.findall(
                    set_command)[:1]:
            continue  # pyvisa-sim sets one value per property
        lines += [f"      p{number}_{control.name}:",
                  f"        default: {_yaml(initial_answer(control))}",
                  "        getter:",
                  f"          q: {_yaml(get_command)}",
                  '          r: "{:s}"',
                  "        setter:",
                  f"          q: {_yaml(FORMAT.sub('{:s}', set_command))}"]
    lines += ["resources:", f"  {SIMULATED_RESOURCE}:",
              "    device: device 1", ""]
    return "\n".join(lines)


def _yaml(text):
    """A YAML double-quoted scalar: JSON's escapes are YAML's."""
    return json.dumps(str(text))


def main(argv=None):
    """Print the starting YAML of the class that argv names."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m <name>.ndsp_runtime.pymeasure_fake "
                 "pymeasure.instruments.vendor.Class > instrument.yaml")
    try:
        instrument_class = pymeasure_classes.load(argv[0])
    except ImportError as error:
        sys.exit(f"pymeasure_fake: error: {error}")
    sys.stdout.write(yaml_for(instrument_class))


if __name__ == "__main__":
    main()
