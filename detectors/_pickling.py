"""How the frozen records pickle (to scan workers, the live detector, Dask workers).

Compiled by mypyc, a frozen dataclass is a C struct without the ``__setstate__`` of a
plain one, and pickle's default (``__reduce_ex__``: make, then set the fields) trips over
its frozen ``__setattr__``. Each record pickles as its class and its fields instead: made
again by its ``__init__``, interpreted or compiled alike. The package's ``__init__``
registers ``by_fields`` for every such class with ``copyreg``, which pickle and ``copy``
consult before a class's own ``__reduce_ex__``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

_NAMES: dict[type, tuple[str, ...]] = {}


def by_fields(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    """The reduction of a dataclass whose fields are all ``__init__`` arguments."""
    cls = type(obj)
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return cls, tuple([getattr(obj, name) for name in names])
