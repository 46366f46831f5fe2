"""One exception root for every failure a user can cause and fix.

Each subclass is a kind of user-facing failure; its message repeats the bad
value and names the remedy. Real bugs are never wrapped in these classes, so
they keep their traceback.
"""
from __future__ import annotations

__all__ = [
    "QAAuditError",
    "InvalidArgument",
    "InputError",
    "ModelLoadError",
    "SpecError",
    "ExpectationFailed",
    "PredictionsFileError",
    "BaselineError",
    "GateConfigError",
    "SquadFormatError",
    "CacheError",
    "QAAuditWarning",
]


class QAAuditError(Exception):
    """Root of every error qaaudit raises on purpose."""


class InvalidArgument(QAAuditError, ValueError):
    """A function argument is out of its range or of the wrong type."""


class InputError(InvalidArgument):
    """A question or context that cannot be encoded (empty, too long, not text)."""


class ModelLoadError(QAAuditError):
    """A checkpoint that cannot be loaded as an extractive-QA model."""


class SpecError(QAAuditError):
    """An audit file that is not valid: points at ``file:line:col``."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 col: int | None = None, hint: str | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line  # 1-based, as editors show it
        self.col = col    # 1-based
        self.hint = hint
        super().__init__(self.render())

    @property
    def location(self) -> str:
        if self.path is None:
            return "<audit>"
        loc = str(self.path)
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        return loc

    def render(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ExpectationFailed(QAAuditError, AssertionError):
    """One or more expectations of a case did not hold; carries the verdicts."""

    def __init__(self, message: str, verdicts: tuple = ()) -> None:
        self.verdicts = tuple(verdicts)
        super().__init__(message)


class PredictionsFileError(QAAuditError):
    """A predictions file that cannot be read or does not match the audits."""


class BaselineError(QAAuditError):
    """A baseline model or baseline results file that cannot be used."""


class GateConfigError(QAAuditError):
    """Gate settings that are contradictory or out of range."""


class SquadFormatError(QAAuditError):
    """A SQuAD/KorQuAD JSON file whose structure is wrong (names the JSON path)."""


class CacheError(QAAuditError):
    """The explanation cache directory cannot be used."""


class QAAuditWarning(UserWarning):
    """A setting that works but costs more than it should on this machine; the message names the remedy."""
