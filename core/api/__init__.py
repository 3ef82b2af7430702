"""The HTTP API's logic, without a web framework.

In the manner of pygeoapi's ``api/*.py``: every operation is a function
``fn(ctx, req) -> (status, headers, body)`` taking a :class:`~rallypoint.api.request.Request`
(method, path parameters, query arguments as a multi-dict, headers, body bytes and the
authenticated principal) and a :class:`~rallypoint.api.context.Context` (the registry
opened for this request, the configuration, the plugin manager). Nothing here imports
Flask; :mod:`rallypoint.web` only adapts Flask's request and response objects.

>>> from rallypoint.api import Request, Context, landing
>>> status, headers, body = landing.landing_page(ctx, Request())   # doctest: +SKIP
"""

from __future__ import annotations

from .config import ApiConfig
from .context import Context
from .errors import ApiError
from .request import Headers, QueryArgs, Request

__all__ = ["ApiConfig", "ApiError", "Context", "Headers", "QueryArgs", "Request"]
