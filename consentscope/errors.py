"""One error base for everything a user can fix: a file, a place in it, and what is wrong.

Every error the tool raises on bad input (a broken capture, a profile key, a project-file
entry, a timeline line, an unusable database, a bad option) derives from
``ConsentscopeError``; ``cli.main`` catches it once and prints one line, exit 2. Anything
else that escapes is a bug in consentscope, not in the input.
"""

from __future__ import annotations


class ConsentscopeError(Exception):
    """``path``: the file (or URL) concerned, if any; ``place``: where in it ("byte 123",
    "line 4", "key app.type"); ``message``: what is wrong, for a person."""

    def __init__(self, message: str, path: str | None = None, place: str | None = None) -> None:
        self.message = message
        self.path = path
        self.place = place
        super().__init__(self._text())

    def _text(self) -> str:
        where = self.path or ""
        if self.place:
            where = f"{where} at {self.place}" if where else self.place
        return f"{where}: {self.message}" if where else self.message


class UsageError(ConsentscopeError):
    """A command-line option or argument that cannot be used."""


__all__ = ["ConsentscopeError", "UsageError"]
