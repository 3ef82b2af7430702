"""Errors the API answers with, each carrying its HTTP status and OGC exception code.

They join :class:`~rallypoint.errors.RallypointError`, so one handler serves both the
registry's errors (a refused write is 400, a stale one 412) and the API's own. The body is
always JSON ``{"code": ..., "description": ...}``; internal details stay in the log.
"""

from __future__ import annotations

from typing import Any

from ..errors import RallypointError, ValidationError


class ApiError(RallypointError):
    http_status = 400
    ogc_code = "InvalidParameterValue"
    ogc_type: str | None = None  # an OGC exception type URI, where a standard names one (Processes)
    public = False  # a 5xx whose description is written for the user (else it is "internal error")

    def __init__(self, description: str, *, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.description = description
        self.headers = dict(headers or {})


class BadRequest(ApiError, ValueError):
    http_status = 400
    ogc_code = "InvalidParameterValue"


class UnknownParameter(BadRequest):
    ogc_code = "InvalidParameterValue"


class Unauthorized(ApiError, PermissionError):
    http_status = 401
    ogc_code = "Unauthorized"

    def __init__(self, description: str):
        super().__init__(description, headers={"WWW-Authenticate": 'Bearer realm="rallypoint"'})


class Forbidden(ApiError, PermissionError):
    http_status = 403
    ogc_code = "Forbidden"


class NotFound(ApiError, LookupError):
    http_status = 404
    ogc_code = "NotFound"


class MethodNotAllowed(ApiError):
    http_status = 405
    ogc_code = "MethodNotAllowed"

    def __init__(self, description: str, allowed: list[str]):
        super().__init__(description, headers={"Allow": ", ".join(allowed)})


class NotAcceptable(ApiError):
    http_status = 406
    ogc_code = "NotAcceptable"


class PreconditionFailed(ApiError):
    http_status = 412
    ogc_code = "PreconditionFailed"


class PreconditionRequired(ApiError):
    """A change to a feature sent without the version it changes (RFC 6585): it could overwrite a change its
    sender never saw."""

    http_status = 428
    ogc_code = "PreconditionRequired"


class PayloadTooLarge(ApiError):
    http_status = 413
    ogc_code = "PayloadTooLarge"


class UnsupportedMediaType(ApiError):
    http_status = 415
    ogc_code = "UnsupportedMediaType"


class TooManyRequests(ApiError):
    """Over a rate limit: try again after ``Retry-After`` seconds."""

    http_status = 429
    ogc_code = "TooManyRequests"

    def __init__(self, description: str, retry_after: int):
        super().__init__(description, headers={"Retry-After": str(max(1, int(retry_after)))})


def error_body(exc: BaseException) -> tuple[int, dict[str, str], dict[str, Any]]:
    """``(status, headers, body)`` for an error: RallypointError subclasses say their own status."""
    if isinstance(exc, RallypointError):
        status = int(getattr(exc, "http_status", 500))
        code = getattr(exc, "ogc_code", "NoApplicableCode")
        description = getattr(exc, "description", None) or str(exc)
        if status >= 500 and not getattr(exc, "public", False):
            description = "internal error"  # the detail stays in the log
        body: dict[str, Any] = {"code": code, "description": description}
        if getattr(exc, "ogc_type", None):
            body["type"] = exc.ogc_type
        if isinstance(exc, ValidationError):
            body["problems"] = [{"layer": p.layer, "feature": p.feature, "field": p.field, "message": p.message}
                                for p in exc.problems]
        return status, dict(getattr(exc, "headers", {}) or {}), body
    return 500, {}, {"code": "NoApplicableCode", "description": "internal error"}
