"""Exceptions of Rallypoint.

One root, :class:`RallypointError`, and each error class also inherits the built-in
exception that fits (as Fiona does with ``FionaValueError(FionaError, ValueError)``),
so callers that only know Python's built-ins still catch them. Each class carries the
HTTP status and OGC exception code the web layer will answer with.
"""

from __future__ import annotations

from dataclasses import dataclass


class RallypointError(Exception):
    """Root of every error Rallypoint raises on purpose."""

    http_status = 500
    ogc_code = "NoApplicableCode"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one feature: where it is and what is wrong.

    ``feature`` names the feature as the user knows it: its UUID, or for a feature
    not yet written its position in the batch and its name.
    """

    layer: str
    feature: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.layer} {self.feature}"
        if self.field:
            where += f" field {self.field!r}"
        return f"{where}: {self.message}"


class ValidationError(RallypointError, ValueError):
    """A write was refused because the data is wrong; nothing was written.

    ``problems`` lists every problem found in the batch, each naming layer,
    feature and field.
    """

    http_status = 400
    ogc_code = "InvalidParameterValue"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = "\n  ".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        tail = f"\n  … and {more} more" if more > 0 else ""
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''}, nothing written:\n  {shown}{tail}")


class UnknownLayerError(RallypointError, KeyError):
    """The layer name is not one of the registry's layers."""

    http_status = 404
    ogc_code = "NotFound"

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0] if self.args else "unknown layer"


class FeatureNotFoundError(RallypointError, LookupError):
    """No feature with that UUID (or that version) in the layer."""

    http_status = 404
    ogc_code = "NotFound"


class ConflictError(RallypointError, RuntimeError):
    """The feature changed since the version the caller read (a stale write)."""

    http_status = 412
    ogc_code = "PreconditionFailed"

    def __init__(self, message: str, current_version: int | None = None):
        super().__init__(message)
        self.current_version = current_version


class RegistryFileError(RallypointError, OSError):
    """The file is not a Rallypoint registry, or cannot be opened as one."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


class DefinitionError(RallypointError, ValueError):
    """A layer definition (in ``layers/`` or from a plugin) is malformed."""
