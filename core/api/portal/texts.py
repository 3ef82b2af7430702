"""The portal's words in Chinese and English, its language (asked for, or remembered by the browser) and
its clock (local time, Asia/Shanghai)."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from ... import localtime as clock
from ..errors import BadRequest
from ..request import Request

LANGS = ("zh", "en")
#: the cookie that remembers a browser's language (a preference, not a credential: readable by the page)
LANG_COOKIE = "rp_lang"
LANG_COOKIE_DAYS = 365

TEXTS = {
    "zh": {
        "portal": "应急资源门户", "switch": "English", "map": "应急资源地图", "open_map": "打开完整地图",
        "search": "搜索", "search_hint": "名称或行政区划代码", "search_none": "没有找到匹配的资源。",
        "search_results": "搜索结果", "details": "详情",
        "glance": "资源概况", "layer": "图层", "features": "数量", "by_township": "各乡镇（街道）资源数",
        "township": "乡镇（街道）", "code": "区划代码", "unregistered": "（未登记区划）", "total": "合计",
        "changes": "最近更新", "no_changes": "尚无更新记录。", "when": "时间（北京时间）", "what": "资源",
        "op": "操作", "by": "操作人",
        "reports": "报告与分析", "analyses": "分析", "reports_of": "报告", "needs_role": "（需登录：{role}及以上）",
        "loading": "正在计算…", "unavailable": "暂时无法计算，请稍后再试。", "sign_in_to_see": "登录后可见",
        "machine": "数据接口（供软件使用）", "api_doc": "接口说明（OpenAPI）", "conformance": "符合性声明",
        "collections": "数据集", "tiles": "矢量瓦片", "tms": "瓦片矩阵集", "landing_json": "本页的 JSON 版本",
        "sign_in": "登录", "sign_out": "退出", "signed_in_as": "已登录：{name}（{role}）",
        "name": "用户名", "password": "密码", "key_hint": "持有 API 密钥者：用户名留空，将密钥填入密码栏。",
        "signin_title": "登录应急资源门户", "already": "您已登录为 {name}（{role}）。",
        "form_expired": "表单已过期，请重新登录。", "too_many": "登录尝试过多，请 {seconds} 秒后再试。",
        "wrong": "用户名或密码错误。", "disabled": "该账号已停用。", "revoked": "该 API 密钥已被吊销。",
        "back": "返回门户", "not_signed_out": "退出请求未通过安全校验（可能来自其他网站），您仍处于登录状态。",
    },
    "en": {
        "portal": "Emergency resources portal", "switch": "中文", "map": "Emergency resources map",
        "open_map": "Open the full map", "search": "Search", "search_hint": "Name or division code",
        "search_none": "No resource matches.", "search_results": "Search results", "details": "Details",
        "glance": "At a glance", "layer": "Layer", "features": "Count", "by_township": "Resources per township",
        "township": "Township", "code": "Division code", "unregistered": "(division not registered)",
        "total": "Total", "changes": "Latest changes", "no_changes": "No change recorded yet.",
        "when": "When (China time)", "what": "Resource", "op": "Change", "by": "By",
        "reports": "Reports and analyses", "analyses": "Analyses", "reports_of": "Reports",
        "needs_role": "(sign in: {role} or above)", "loading": "Computing…",
        "unavailable": "Cannot be computed just now; try again later.", "sign_in_to_see": "Sign in to see",
        "machine": "Data services (for software)", "api_doc": "API documentation (OpenAPI)",
        "conformance": "Conformance classes", "collections": "Collections", "tiles": "Vector tiles",
        "tms": "Tile matrix sets", "landing_json": "This page as JSON",
        "sign_in": "Sign in", "sign_out": "Sign out", "signed_in_as": "Signed in: {name} ({role})",
        "name": "Name", "password": "Password",
        "key_hint": "Holders of an API key: leave the name empty and give the key as the password.",
        "signin_title": "Sign in to the emergency resources portal", "already": "You are signed in as {name} ({role}).",
        "form_expired": "The form has expired; please sign in again.",
        "too_many": "Too many sign-in attempts; try again in {seconds} seconds.",
        "wrong": "Wrong name or password.", "disabled": "This account has been disabled.",
        "revoked": "This API key has been revoked.", "back": "Back to the portal",
        "not_signed_out": "The sign-out request failed its security check (it may have come from another site); "
                          "you are still signed in.",
    },
}

ROLES = {"zh": {"reader": "查看员", "editor": "编辑员", "admin": "管理员"},
         "en": {"reader": "reader", "editor": "editor", "admin": "admin"}}

OPS = {"zh": {"insert": "新增", "update": "修改", "retire": "停用", "restore": "恢复", "load": "导入"},
       "en": {"insert": "added", "update": "changed", "retire": "retired", "restore": "restored", "load": "loaded"}}


def lang_cookie(lang: str) -> str:
    return f"{LANG_COOKIE}={lang}; Path=/; Max-Age={LANG_COOKIE_DAYS * 86400}; SameSite=Lax"


def remembered_lang(req: Request) -> str | None:
    """The language the browser's cookie remembers, if any."""
    try:
        jar = SimpleCookie(req.headers.get("cookie") or "")
    except CookieError:
        return None
    morsel = jar.get(LANG_COOKIE)
    return morsel.value if morsel is not None and morsel.value in LANGS else None


def page_lang(req: Request, given: str | None = None) -> tuple[str, dict[str, str]]:
    """The page's language and the headers that remember it: ``lang`` asked for (then remembered by a cookie),
    else the one remembered, else Chinese."""
    given = req.args.single("lang") if given is None else given
    if given is not None:
        if given not in LANGS:
            raise BadRequest(f"parameter lang={given!r}: the portal is in zh (中文) or en (English)")
        return given, {"Set-Cookie": lang_cookie(given)}
    return remembered_lang(req) or "zh", {}


def local_time(stamp: str | None) -> str:
    """A stored UTC time (ISO 8601) as the bureau's local time, to the minute: ``2026-05-01 16:00``."""
    return clock.local_time(stamp, "%Y-%m-%d %H:%M")
