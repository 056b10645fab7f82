"""A ``Scanner`` compiled on its first use, in the process that uses it.

Its own module, interpreted: a compiled (mypyc) ``Scanner`` has no ``__dict__`` and takes
no ``__getattr__``, so this one holds a scanner instead of being one."""

from __future__ import annotations

from typing import Any

from ._scan import Scanner, ScanProfile


class DeferredScanner:
    """Stands for ``Scanner(profile, **options)``, compiled on its first use; the same
    scanner from then on. A replay whose flow file is read by scan workers forks them
    before anything is compiled: each compiles its own, the two at once on two cores,
    instead of the main process compiling one (0.15-0.3 s on a full profile) while the
    other core waits; the main process, which only scans what is not sent to a worker,
    compiles none unless it needs one. Not for threads: two first uses at once would both
    compile."""

    def __init__(self, profile: ScanProfile, **options: Any) -> None:
        self._deferred: tuple[ScanProfile, dict[str, Any]] | None = (profile, options)
        self.scanner: Scanner | None = None  # None until the first use

    def __getattr__(self, name: str) -> Any:  # only for what is not set here: a scanner's
        deferred = self.__dict__.get("_deferred")
        if deferred is None or name.startswith("__"):
            raise AttributeError(name)
        self._deferred = None
        self.scanner = scanner = Scanner(deferred[0], **deferred[1])
        self.scan = scanner.scan  # the hot call: bound once, not looked up through here
        return getattr(scanner, name)
