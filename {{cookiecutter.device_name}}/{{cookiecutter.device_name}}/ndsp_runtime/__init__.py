"""The generic runtime of an NDSP made with ndsp-template.

Every module here is the same, byte for byte, in every generated project,
whatever its device: do not edit it. ``cruft update`` replaces it with
the template's newest version; a fix belongs in the template, where this
code has its tests. Your device lives beside it: the driver, its fake
instrument and its tests.

Importing this package imports neither sipyco nor a transport's library:
each module imports what it needs when it is used.
"""
