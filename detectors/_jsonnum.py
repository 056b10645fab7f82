"""A JSON number as its source text: its own module, because a ``str`` subclass cannot be a
compiled (mypyc) class; this module stays interpreted (``setup.py``)."""


class _Num(str):
    """A JSON number as its source text (39.908712 stays 39.908712, not a float)."""

    __slots__ = ()
