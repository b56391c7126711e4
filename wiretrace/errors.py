"""One exception hierarchy for everything wiretrace raises on purpose.

Messages name the file, the record (line or id), the rule broken and, where there is one, the fix:
``"story.txt: not UTF-8 text (byte 0xff at offset 12); save it as UTF-8 or pass --encoding"``.
"""

from __future__ import annotations


class WiretraceError(Exception):
    """Base class: the CLI turns any of these into a one-line message and a non-zero exit."""

    exit_code = 1

    def __init__(self, message: str, *, path: str = "", record: str | int | None = None):
        self.path = str(path) if path else ""
        self.record = record
        self.rule = message
        where = self.path
        if record is not None and record != "":
            where = f"{where}:{record}" if where else str(record)
        super().__init__(f"{where}: {message}" if where else message)

    def to_dict(self) -> dict:
        """The one JSON error shape (CLI `--json` errors and the web app)."""
        return {
            "error": type(self).__name__,
            "message": str(self),
            "path": self.path or None,
            "record": self.record,
        }


class InputError(WiretraceError):
    """A file or record that cannot be read as an article."""

    exit_code = 2


class ConfigError(WiretraceError):
    """A bad setting in a config file, the environment or a flag."""

    exit_code = 2


class StoreError(WiretraceError):
    """The store cannot be opened or written (wrong schema, wrong fingerprint scheme, locked)."""

    exit_code = 3


class NotFoundError(WiretraceError):
    """An article, story or pair id that the store does not hold."""

    exit_code = 4


class MissingExtraError(WiretraceError):
    """A feature needs an optional dependency: the message says which extra to install."""

    exit_code = 5
