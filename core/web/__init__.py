"""The web server: a Flask app factory over :mod:`rallypoint.api` (which knows nothing of Flask).

    from rallypoint.web import create_app
    app = create_app("county.gpkg")          # or: gunicorn 'rallypoint.web:create_app("county.gpkg")'
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
