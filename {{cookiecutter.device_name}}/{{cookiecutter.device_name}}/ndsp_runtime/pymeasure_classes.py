"""What a pymeasure instrument class declares, read from the class alone,
without an instrument: its controls (``Instrument.control``,
``measurement`` and ``setting`` properties) and its channels.

pymeasure keeps each control's command, values and validator as the
defaults of its getter's and setter's parameters; a channel is a
``ChannelCreator`` (or ``MultiChannelCreator``) class attribute, which
pymeasure turns into an attribute of each instrument it builds. The
served driver, the fake adapter and the exported driver all read the
class through this module.
"""

import dataclasses
import importlib
import inspect
import re


@dataclasses.dataclass(frozen=True)
class Control:
    """One property made by pymeasure's control, measurement or setting.

    ``get_command`` is None for a setting, ``set_command`` for a
    measurement; ``values``, ``map_values`` and ``validator`` are as
    declared; ``doc`` is pymeasure's docstring; ``dynamic`` marks a
    DynamicProperty, whose parameters an instance may change.
    """

    name: str
    get_command: object
    set_command: object
    values: object
    map_values: bool
    validator: object
    doc: str
    dynamic: bool

    @property
    def deprecated(self):
        """Whether pymeasure's docstring deprecates it for another member
        (a note deprecating some of its values keeps it)."""
        return is_deprecated(self.name, self.doc)

    @property
    def readable(self):
        return self.get_command is not None

    @property
    def writable(self):
        return self.set_command is not None


@dataclasses.dataclass(frozen=True)
class Channel:
    """One channel: the attribute an instrument gets (``ch_2``), the
    channel's class and its id on the instrument."""

    attribute: str
    cls: type
    id: object


DEPRECATION = re.compile(r"\.\. deprecated::(.*)", re.DOTALL)
MEMBER_REFERENCE = re.compile(r":(?:attr|meth):`~?\.?([A-Za-z_][\w.]*)`")


def is_deprecated(name, doc):
    """Whether ``doc`` (pymeasure's docstring of ``name``) deprecates the
    member in favour of another one."""
    note = DEPRECATION.search(doc or "")
    if note is None:
        return False
    named = {reference.rpartition(".")[2]
             for reference in MEMBER_REFERENCE.findall(note.group(1))}
    return bool(named - {name}) or not named


def load(dotted_path):
    """The class that ``dotted_path`` names
    (``pymeasure.instruments.keithley.Keithley2400``); ImportError, naming
    the path, if there is none."""
    module_name, _, class_name = dotted_path.rpartition(".")
    if not module_name:
        raise ImportError(f"{dotted_path!r} names no class: give its "
                          "module too, as in "
                          "pymeasure.instruments.keithley.Keithley2400")
    module = importlib.import_module(module_name)
    try:
        cls = getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"{module_name} has no class {class_name!r}") \
            from None
    if not inspect.isclass(cls):
        raise ImportError(f"{dotted_path} is not a class")
    return cls


def controls(cls):
    """The class's controls, by name (inherited ones too)."""
    found = []
    for name in sorted(dir(cls)):
        attribute = inspect.getattr_static(cls, name, None)
        control = _control(name, attribute)
        if control is not None:
            found.append(control)
    return found


def _control(name, attribute):
    if not isinstance(attribute, property) or attribute.fget is None:
        return None
    getter = _defaults(attribute.fget)
    setter = _defaults(attribute.fset) if attribute.fset else {}
    if "get_command" not in getter:
        return None  # a plain property, not one of pymeasure's
    declared = {**setter, **getter}
    return Control(
        name=name,
        get_command=getter["get_command"],
        set_command=setter.get("set_command"),
        values=declared.get("values"),
        map_values=bool(declared.get("map_values")),
        validator=setter.get("validator"),
        doc=inspect.cleandoc(attribute.fget.__doc__ or ""),
        dynamic=type(attribute).__name__ == "DynamicProperty")


def _defaults(function):
    return {name: parameter.default for name, parameter
            in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def channels(cls):
    """The class's channels, in the order pymeasure creates them, named
    as pymeasure names their attributes."""
    from pymeasure.instruments.common_base import CommonBase

    found = []
    for name, creator in CommonBase.get_channels(cls):
        multiple = isinstance(creator, CommonBase.MultiChannelCreator)
        prefix = creator.kwargs.get("prefix", "ch_")
        for channel_class, channel_id in creator.pairs:
            if not multiple or channel_id is None:
                attribute = name
            elif prefix:
                attribute = f"{prefix}{channel_id}"
            else:
                # pymeasure puts a lone unprefixed child under the
                # collection's own name.
                attribute = name
            found.append(Channel(attribute, channel_class, channel_id))
    return found
