"""What a client may call: an object's public methods, and nothing else.

sipyco's server calls whatever attribute a request names, ``_private``
ones and dunders (``__setattr__``) included, and lists every public
callable, ``close()`` too. The controller serves a ``Surface`` instead:
an object that holds only the methods a client may call, so that no
request reaches the driver's state, its transport or its life cycle.
"""

import inspect

# The controller's, not a client's: it builds the driver once, with
# open(), and closes the device once, on exit.
NOT_REMOTE = frozenset({"open", "close"})


def remote_methods(obj, not_remote=NOT_REMOTE):
    """The names of the public methods of ``obj`` (an object or a class):
    functions, static and class methods of its class (not attributes set
    on the instance, nor properties or nested classes), neither
    ``_private`` nor dunders, and not in ``not_remote``. ``open``, the
    class method that builds a driver, is the controller's too."""
    cls = obj if inspect.isclass(obj) else type(obj)
    return sorted(name for name in dir(cls)
                  if not name.startswith("_") and name not in not_remote
                  and _is_method(inspect.getattr_static(cls, name)))


def _is_method(attribute):
    if isinstance(attribute, (staticmethod, classmethod)):
        return True
    return callable(attribute) and not inspect.isclass(attribute)


class Surface:
    """Serves the public methods of ``obj`` (see ``remote_methods``)."""

    def __init__(self, obj, not_remote=NOT_REMOTE):
        self.__doc__ = inspect.getdoc(obj) or ""
        self._names = frozenset(remote_methods(obj, not_remote))
        for name in self._names:
            setattr(self, name, getattr(obj, name))

    def __contains__(self, name):
        """Whether a client may call ``name``."""
        return name in self._names

    def __iter__(self):
        return iter(sorted(self._names))
