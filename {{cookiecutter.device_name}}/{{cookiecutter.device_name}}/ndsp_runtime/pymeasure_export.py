"""Write a served pymeasure class out as plain driver code, to edit:

    python -m <name>.ndsp_runtime.pymeasure_export \\
        pymeasure.instruments.keithley.Keithley2400 > <name>/driver.py

The code has one method per RPC method of served_class(), with the same
names, signatures and docstrings; each runs its call in the driver's
worker thread, as the served class does.
"""

import inspect
import sys
import textwrap

from . import pymeasure_classes, pymeasure_driver

WIDTH = 79


def driver_code(dotted_path, class_name=None):
    """The text of a driver module serving ``dotted_path``."""
    instrument_class = pymeasure_classes.load(dotted_path)
    module, _, name = dotted_path.rpartition(".")
    class_name = class_name or name
    lines = [
        f'"""The driver: pymeasure\'s {name}, written out by',
        "ndsp_runtime.pymeasure_export: yours to edit."
        '"""', "",
        f"from {module} import {name} as Instrument", "",
        "from .ndsp_runtime.pymeasure_driver import ServedInstrument",
        "", "",
        f"class {class_name}(ServedInstrument):",
        *_docstring(f"pymeasure's {dotted_path}, served.", 4), "",
        "    instrument_class = Instrument"]
    for method in pymeasure_driver.rpc_methods(instrument_class):
        lines += ["", *_method(method)]
    return "\n".join(lines) + "\n"


def _method(method):
    signature = str(method.signature).replace("'", '"')
    head = f"    async def {method.name}{signature}:"
    if len(head) > WIDTH:
        head = _wrapped_head(method)
    where = f"{method.channel!r}, {method.member!r}".replace("'", '"')
    if method.kind == "get":
        body = [f"return await self._get({where})"]
    elif method.kind == "set":
        body = [f"await self._set({where}, value)"]
    else:
        arguments = _call_arguments(method.signature)
        body = [f"return await self._invoke({', '.join([where, *arguments])})"]
        if len(body[0]) + 8 > WIDTH:
            body = ["return await self._invoke(",
                    f"    {where},",
                    *(f"    {argument}," for argument in arguments)]
            body[-1] = body[-1].rstrip(",") + ")"
    return [head, *_docstring(method.doc, 8),
            *("        " + line for line in body)]


def _wrapped_head(method):
    parameters = [str(parameter).replace("'", '"') for parameter in
                  method.signature.parameters.values()]
    returns = method.signature.return_annotation
    tail = ("" if returns is inspect.Signature.empty
            else f" -> {returns.__name__}")
    lines = [f"    async def {method.name}("]
    lines += [f"            {parameter}," for parameter in parameters]
    lines[-1] = lines[-1].rstrip(",") + f"){tail}:"
    return "\n".join(lines)


def _call_arguments(signature):
    """The call's arguments, as pymeasure_driver.call_arguments passes
    them."""
    parameters = list(signature.parameters.values())[1:]
    by_position = any(parameter.kind is inspect.Parameter.VAR_POSITIONAL
                      for parameter in parameters)
    arguments = []
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            arguments.append(f"*{parameter.name}")
        elif parameter.kind is inspect.Parameter.KEYWORD_ONLY or not (
                by_position or
                parameter.kind is inspect.Parameter.POSITIONAL_ONLY):
            arguments.append(f"{parameter.name}={parameter.name}")
        else:
            arguments.append(parameter.name)
    return arguments


def _docstring(text, indent):
    """``text`` as a docstring at ``indent``, its lines within WIDTH."""
    pad = " " * indent
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = []
    for line in text.splitlines() or [""]:
        stripped = line.rstrip()
        lead = pad + " " * (len(stripped) - len(stripped.lstrip()))
        if len(pad + stripped) <= WIDTH - 3:
            lines.append((pad + stripped).rstrip())
        else:
            lines += textwrap.wrap(stripped.lstrip(), WIDTH - 3,
                                   initial_indent=lead,
                                   subsequent_indent=lead,
                                   break_on_hyphens=False) or [lead]
    lines[0] = pad + '"""' + lines[0][len(pad):]
    if len(lines) == 1 and len(lines[0]) + 3 <= WIDTH:
        return [lines[0] + '"""']
    return [*lines, pad + '"""']


def main(argv=None):
    """Print the driver code of the class that argv names."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        sys.exit("usage: python -m <name>.ndsp_runtime.pymeasure_export "
                 "pymeasure.instruments.vendor.Class [ClassName] > "
                 "<name>/driver.py")
    try:
        code = driver_code(*argv)
    except ImportError as error:
        sys.exit(f"pymeasure_export: error: {error}")
    sys.stdout.write(code)


if __name__ == "__main__":
    main()
