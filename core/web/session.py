"""Sign-in for browsers: the session cookie, CSRF protection, and the ``/signin`` and ``/signout`` forms.

A browser cannot send ``Authorization: Bearer``; it signs in instead (an account's name and password, or an
API key as the password: :func:`rallypoint.api.accounts.sign_in`) and gets a session (:mod:`rallypoint.api.sessions`,
kept in the registry, so every worker and a restarted one know it). The cookie ``rp_session`` holds its random
token: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request came over https (or always, with
``RALLYPOINT_SESSION_SECURE``), and an expiry; signing out deletes the session server-side, so a copied cookie
stops working too. Each request with the cookie is the signed-in :class:`~rallypoint.api.auth.Principal`, as a
key's request is (:mod:`.adapter`); an expired, ended or forged cookie counts for nothing and is removed.

CSRF: Flask-WTF's :class:`~flask_wtf.csrf.CSRFProtect` (a signed token tied to the browser, checked on every form
post, and on the ``Referer`` over https). It guards the sign-in and sign-out forms (also against login CSRF)
and every write a session cookie would authenticate (POST, PUT, PATCH, DELETE), which must send the token as the
``csrf_token`` field or an ``X-CSRFToken`` header. Requests that carry an API key (``Authorization`` or
``X-API-Key``) are not checked: a key is never sent by a browser on its own. SameSite=Lax already keeps the
cookie off other sites' posts in current browsers; the token also covers older ones and other origins of the
same site (another port of the host).

Flask-WTF keeps its token's other half in Flask's own signed cookie (named ``rp_csrf`` here), signed with the
app's secret key: ``SECRET_KEY`` if given, else a random one kept in a file beside the jobs folder (made once,
mode 0600), which the server's workers share and which outlives their restarts.

Settings (``create_app`` config): ``RALLYPOINT_SESSION_HOURS`` (8), ``RALLYPOINT_SESSION_SECURE`` (False: Secure
only over https), ``SECRET_KEY``; the sign-in attempts' limit is :mod:`.ratelimit`'s.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, redirect, request
from flask import session as flask_session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..api.accounts import sign_in
from ..api.errors import Unauthorized
from ..api.portal.page import signin_page
from ..api.portal.texts import TEXTS, page_lang
from ..api.sessions import SESSION_HOURS, end_session, start_session
from .adapter import SESSION_COOKIE, get_registry, handle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_COOKIE = "rp_csrf"


class _CookieFlags(SecureCookieSessionInterface):
    """Flask's signed cookie (only Flask-WTF's token is in it), Secure when the request is."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return secure_cookies()


def secure_cookies() -> bool:
    return bool(current_app.config.get("RALLYPOINT_SESSION_SECURE")) or request.is_secure


def server_secret(path: Path) -> str:
    """The app's secret key kept in ``path``: made once (atomically, whichever worker comes first), then read."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48))
    try:
        os.link(fresh, path)  # fails if another worker's is there already: theirs is kept
    except FileExistsError:
        pass
    finally:
        fresh.unlink()
    return path.read_text(encoding="ascii").strip()


def init_sessions(app: Flask, config: dict[str, Any], jobs_folder: Path) -> None:
    """Sessions, CSRF protection and the sign-in forms on ``app``."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = server_secret(jobs_folder.with_name(jobs_folder.name + ".secret"))
    hours = float(config.get("RALLYPOINT_SESSION_HOURS") or SESSION_HOURS)
    app.config.update(
        RALLYPOINT_SESSION_HOURS=hours,
        SESSION_COOKIE_NAME=CSRF_COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by _protect below, where a session cookie or a form is involved
        WTF_CSRF_TIME_LIMIT=int(hours * 3600),  # a page opened at the start of a session works to its end
    )
    app.session_interface = _CookieFlags()
    CSRFProtect(app)
    app.before_request(_protect)
    app.after_request(_upkeep)
    app.register_blueprint(signin_blueprint())


def _sends_key() -> bool:
    return "Authorization" in request.headers or "X-API-Key" in request.headers


def _protect() -> None:
    if request.method in SAFE_METHODS:
        return
    if request.blueprint == "signin" or (SESSION_COOKIE in request.cookies and not _sends_key()):
        current_app.extensions["csrf"].protect()


def _cookie_flags() -> dict[str, Any]:
    return {"path": "/", "httponly": True, "samesite": "Lax", "secure": secure_cookies()}


def _upkeep(response: Response) -> Response:
    new = g.get("new_session")
    if new is not None:
        token, expires = new
        response.set_cookie(SESSION_COOKIE, token, expires=expires, **_cookie_flags())
    elif g.get("stale_session") or g.get("ended_session"):
        response.delete_cookie(SESSION_COOKIE, **_cookie_flags())
    if request.blueprint == "signin":  # the password form is never shown inside another site's frame
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    if g.get("session_principal") is not None or new is not None:
        # a signed-in answer may hold personal data: never kept by a shared cache
        cache = response.headers.get("Cache-Control", "")
        if not cache or "public" in cache:
            response.headers["Cache-Control"] = "private, no-cache"
        response.vary.add("Cookie")
    return response


def next_path(raw: str | None) -> str:
    """Where to go after signing in: a path of this server only (never another site's address)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 2000 \
            or any(ord(c) < 32 for c in raw):
        return "/"
    return raw


def _words(exc: Unauthorized, lang: str) -> str:
    t = TEXTS[lang]
    if "disabled" in exc.description:
        return t["disabled"]
    if "revoked" in exc.description:
        return t["revoked"]
    return t["wrong"]


def _signin() -> Response:
    form = request.form if request.method == "POST" else request.args
    after = next_path(form.get("next"))
    if request.method == "GET":
        def form_page(ctx, req):
            lang, headers = page_lang(req)
            return signin_page(ctx, req, lang=lang, next_path=after, headers=headers)

        return handle(form_page, form=True)
    given_lang = form.get("lang") or None
    name, password = form.get("name", ""), form.get("password", "")

    def answer(ctx, req):
        lang, headers = page_lang(req, given_lang)
        try:
            principal = sign_in(ctx.registry, name, password)
        except Unauthorized as exc:
            return signin_page(ctx, req, lang=lang, next_path=after, status=401, message=_words(exc, lang),
                               name=name if len(name) <= 100 else "", headers=headers)
        g.new_session = start_session(ctx.registry, principal, current_app.config["RALLYPOINT_SESSION_HOURS"])
        flask_session.pop("csrf_token", None)  # a new CSRF token with the new session
        return 303, {"Location": after, **headers}, b""

    return handle(answer, form=True)


def _signout() -> Response:
    end_session(get_registry(), request.cookies.get(SESSION_COOKIE))
    g.ended_session = True
    flask_session.pop("csrf_token", None)
    return redirect(next_path(request.form.get("next")), 303)


def signin_blueprint() -> Blueprint:
    bp = Blueprint("signin", __name__)
    bp.add_url_rule("/signin", "signin", _signin, methods=["GET", "POST"])
    bp.add_url_rule("/signout", "signout", _signout, methods=["POST"])
    return bp


def _wants_html() -> bool:
    f = request.args.get("f")
    if f:
        return f.lower() in ("html", "text/html")
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def browser_answer(exc: Exception) -> Response | None:
    """The answer a person in a browser gets instead of an error's JSON, or None: the sign-in form again when
    its post was refused (CSRF, too many attempts), and the sign-in page when a page needs a sign-in."""
    if request.blueprint == "signin" and request.method == "POST":
        if isinstance(exc, CSRFError):
            status, seconds = 400, 0
            key = "not_signed_out" if request.endpoint == "signin.signout" else "form_expired"
        elif getattr(exc, "code", None) == 429:
            limit = getattr(exc, "limit", None)
            status, key = 429, "too_many"
            seconds = int(limit.limit.get_expiry()) if limit is not None else 60
        else:
            return None
        given = request.form.get("lang") or None

        def page(ctx, req):
            lang, headers = page_lang(req, given if given in TEXTS else None)
            return signin_page(ctx, req, lang=lang, next_path=next_path(request.form.get("next")), status=status,
                               message=TEXTS[lang][key].format(seconds=seconds), headers=headers)

        return handle(page, form=True)
    if isinstance(exc, Unauthorized) and request.method in ("GET", "HEAD") and not _sends_key() and _wants_html():
        here = request.script_root + request.full_path.rstrip("?")
        return redirect(f"{request.script_root}/signin?next={quote(here, safe='/')}", 303)
    return None
