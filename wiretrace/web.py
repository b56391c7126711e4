"""`wiretrace serve`: a web reader for provenance, over a read-only store (page data in `pages`).

Pages: search, article (its sources and derivatives), pair (the two articles side by side, from the
stored pair or computed on the fly), story and family (lineage tree and timeline), and compare (two
pasted or uploaded texts, nothing stored). Every page has a JSON twin under ``/api/`` (or the same
URL with ``?format=json``) using the field names of ``compare --json``.

Safe by default: autoescaped templates, a strict Content-Security-Policy (no inline script or style:
everything is served from ``/static/``), nothing fetched from elsewhere, loopback only unless a token
is given, capped uploads, and one JSON error shape (`WiretraceError.to_dict()`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from . import report
from .errors import ConfigError, InputError, MissingExtraError, NotFoundError, StoreError, WiretraceError
from .models import Comparison
from .options import Options, load_options
from .pages import Pages, highlight, omitted, timeline, web_link

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise MissingExtraError(
        f"the web app needs {exc.name}; install it with: pip install 'wiretrace[web]'"
    ) from None

log = logging.getLogger("wiretrace.web")

MAX_TEXT = 1_000_000  # bytes of UTF-8 per pasted or uploaded text
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {  # name -> (file, media type); pair.css/pair.js are the report's own, shared
    "web.css": (STATIC / "web.css", "text/css"),
    "app.js": (STATIC / "app.js", "text/javascript"),
    "pair.css": (report.TEMPLATES / "pair.css", "text/css"),
    "pair.js": (report.TEMPLATES / "pair.js", "text/javascript"),
}
TOKEN_COOKIE = "wiretrace_token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
STATUS = {NotFoundError: 404, InputError: 400, ConfigError: 400, StoreError: 503}


class TooLargeError(InputError):
    """A pasted or uploaded text over the size limit."""


class UnauthorizedError(WiretraceError):
    """A request without the server's token."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(db_path: str | os.PathLike | None, options: Options | None = None,
               token: str | None = None, allowed_hosts: tuple[str, ...] = (),
               max_text: int = MAX_TEXT) -> "FastAPI":
    """The web app over the store at `db_path` (opened read-only, per request).

    With `token`, every request must carry it (``Authorization: Bearer``, the cookie that
    ``?token=`` sets, or ``?token=`` itself). With `allowed_hosts`, other ``Host`` headers are
    refused (DNS rebinding); `serve` passes the loopback names when it runs without a token.
    """
    options = options or load_options()
    app = FastAPI(title="wiretrace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pages = Pages(db_path, options)
    app.state.max_text = max_text
    _add_guards(app, token, allowed_hosts)
    _add_error_handlers(app)
    _add_routes(app)
    return app


# -- requests, responses, errors ---------------------------------------------------------------


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.query_params.get("format") == "json"


def json_url(request: Request) -> str:
    """The JSON twin of the HTML page being shown."""
    query = {k: v for k, v in request.query_params.items() if k not in ("format", "token")}
    path = "/search" if request.url.path == "/" else request.url.path
    return "/api" + path + ("?" + urlencode(query) if query else "")


def render(request: Request, template: str, context: dict, status: int = 200) -> HTMLResponse:
    context = {"page_title": "wiretrace", "json_url": json_url(request)} | context
    page = report.environment().get_template(template).render(context)
    return HTMLResponse(page, status_code=status)


def dump(data: object, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=1)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(request: Request, err: WiretraceError, status: int) -> Response:
    if wants_json(request):
        return dump(err.to_dict(), status)
    context = {"page_title": f"{status} · {type(err).__name__}", "status": status, "error": err.to_dict()}
    return render(request, "web_error.html", context, status)


def _status(err: WiretraceError) -> int:
    if isinstance(err, TooLargeError):
        return 413
    if isinstance(err, UnauthorizedError):
        return 401
    return next((code for kind, code in STATUS.items() if isinstance(err, kind)), 500)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WiretraceError)
    async def wiretrace_error(request: Request, err: WiretraceError):
        return error_response(request, err, _status(err))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            err: WiretraceError = NotFoundError(f"no page at {request.url.path}")
        else:
            err = InputError(f"{request.method} {request.url.path}: {exc.detail}")
        return error_response(request, err, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_response(request, InputError(problems), 400)


def _add_guards(app: FastAPI, token: str | None, allowed_hosts: tuple[str, ...]) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = _host(request.headers.get("host", ""))
        if allowed_hosts and host not in allowed_hosts:
            response = error_response(request, InputError(f"host {host!r} is not served here"), 400)
        elif token and not _authorised(request, token):
            err = UnauthorizedError("this server needs its token: send 'Authorization: Bearer <token>' "
                                    "or open a page once with ?token=<token>")
            response = error_response(request, err, 401)
        elif token and request.query_params.get("token") and request.method == "GET" and not wants_json(request):
            # Drop the token from the address bar (and history) once the cookie holds it.
            query = {k: v for k, v in request.query_params.items() if k != "token"}
            response = RedirectResponse(request.url.path + ("?" + urlencode(query) if query else ""), 303)
            _set_cookie(response, token)
        else:
            try:
                response = await call_next(request)
            except Exception:  # a bug: logged in full, answered in the one error shape
                log.exception("%s %s failed", request.method, request.url.path)
                err = WiretraceError(f"internal error on {request.method} {request.url.path}; see the server log")
                response = error_response(request, err, 500)
            if token and request.query_params.get("token"):
                _set_cookie(response, token)
        response.headers.update(SECURITY_HEADERS)
        return response


def _host(header: str) -> str:
    """The name part of a Host header: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "[::1]"."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0]


def _authorised(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    offered = [auth[7:].strip() if auth.lower().startswith("bearer ") else "",
               request.cookies.get(TOKEN_COOKIE, ""), request.query_params.get("token", "")]
    return any(o and hmac.compare_digest(o.encode(), token.encode()) for o in offered)


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """The compare form's fields (urlencoded, multipart or JSON), each text capped at `limit` bytes."""
    cap = 2 * limit + 64_000  # both texts plus the form's own overhead
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLargeError(f"request of {int(declared):,} bytes; the limit is {limit:,} bytes per text")
    body, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLargeError(f"request over {cap:,} bytes; the limit is {limit:,} bytes per text")
        body.append(chunk)
    request._body = b"".join(body)  # Starlette re-reads the cached body when parsing the form
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(request._body or b"{}")
        except ValueError as exc:
            raise InputError(f"request body is not JSON ({exc})") from None
        fields = {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    else:
        fields = {}
        async with request.form(max_part_size=cap, max_fields=20, max_files=2) as form:  # closes uploads
            for key, value in form.multi_items():
                if isinstance(value, str):
                    fields.setdefault(key, value)
                elif value.filename:
                    fields[key] = _decode(await value.read(), value.filename)
                    fields[f"{key}_file"] = Path(value.filename).stem
    for key, value in fields.items():
        if len(value.encode("utf-8")) > limit:
            raise TooLargeError(f"text {key!r} is {len(value.encode('utf-8')):,} bytes; the limit is {limit:,}",
                                record=key)
    return fields


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "save it as UTF-8", path=name) from None


# -- routes ------------------------------------------------------------------------------------


def _add_routes(app: FastAPI) -> None:  # noqa: C901 - one small function per route
    def both(path: str):
        """Register a page at `path` and its JSON twin at `/api` + `path`."""
        def register(fn):
            app.get(path, response_model=None)(fn)
            app.get("/api" + (path if path != "/" else "/search"), response_model=None)(fn)
            return fn
        return register

    @both("/")
    def search(request: Request, q: str = "", outlet: str = "", since: str = "", until: str = "",
               limit: int = 50):
        data = request.app.state.pages.search(q, outlet, since, until, max(1, min(limit, 500)))
        if wants_json(request):
            return dump(data)
        pieces = [highlight(r["snippet"], q) for r in data["results"]]
        query = {"q": q, "outlet": outlet, "since": since, "until": until, "limit": min(4 * data["limit"], 500)}
        more = "/?" + urlencode({k: v for k, v in query.items() if v}) if data["limit"] < 500 else ""
        return render(request, "web_search.html", data | {"page_title": "search", "pieces": pieces, "more_url": more})

    @both("/article/{article_id:path}")
    def article(request: Request, article_id: str, find: bool = False):
        data = request.app.state.pages.article(article_id)
        if find:  # search the store for likely sources now, beside the stored ones
            data["found"] = request.app.state.pages.find_sources(article_id)
        if wants_json(request):
            return dump(data)
        return render(request, "web_article.html", data | {"page_title": data["article"]["title"] or article_id,
                                                           "link": web_link(data["article"]["url"])})

    @both("/pair/{derived_id}/{source_id}")
    def pair(request: Request, derived_id: str, source_id: str):
        t0 = time.perf_counter()
        comparison, data, origin = request.app.state.pages.pair(derived_id, source_id)
        response = dump(data) if wants_json(request) else _pair_page(request, comparison, origin)
        response.headers["X-Wiretrace-Pair"] = origin
        response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - t0):.1f}"
        return response

    @both("/story/{story_id:path}")
    def story(request: Request, story_id: str):
        data = request.app.state.pages.story(story_id)
        if wants_json(request):
            return dump(data)
        return render(request, "web_family.html", data | {
            "page_title": f"story {story_id}", "kind": "story", "article": "",
            "timeline": timeline(data["members"], [])})

    @both("/family/{article_id:path}")
    def family(request: Request, article_id: str):
        data = request.app.state.pages.family(article_id)
        if wants_json(request):
            return dump(data)
        return render(request, "web_family.html", data | {
            "page_title": f"family of {article_id}", "kind": "family", "by_id": {m["id"]: m for m in data["members"]},
            "timeline": timeline(data["members"], data["edges"])})

    @app.get("/compare", response_model=None)
    def compare_form(request: Request):
        return render(request, "web_compare.html", {"page_title": "compare", "limit": request.app.state.max_text,
                                                    "json_url": ""})

    @app.post("/compare", response_model=None)
    @app.post("/api/compare", response_model=None)
    async def compare(request: Request):
        fields = await read_form(request, request.app.state.max_text)
        comparison = await run_in_threadpool(request.app.state.pages.compare_texts, fields)
        if wants_json(request):
            return dump(comparison.to_dict())
        return _pair_page(request, comparison, "pasted")

    @app.get("/static/{name}", response_model=None)
    def static(name: str):
        if name not in STATIC_FILES:
            raise NotFoundError(f"no static file {name!r}")
        path, media = STATIC_FILES[name]
        return Response(path.read_bytes(), media_type=media + "; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


def _pair_page(request: Request, comparison: Comparison, origin: str) -> HTMLResponse:
    context = report.pair_context(comparison) | {
        "origin": origin,
        "ids": {"derived": comparison.derived.article.id, "source": comparison.source.article.id},
        "timings": {k: f"{1000 * v:.0f} ms" for k, v in comparison.timings.items()},
        "omitted": omitted(comparison),
    }
    if origin == "pasted":
        context["json_url"] = ""
    else:
        _name_by_id(context, comparison.verdict.direction.original)
    return render(request, "web_pair.html", context)


def _name_by_id(context: dict, original: str) -> None:
    """Name stored articles by their id, as the web app's addresses do: the report names an
    article by its file, and every record of one JSONL or CSV file has the same file."""
    for col in context["columns"]:
        col["name"] = col["article"]["id"]
        if col["name"] == original:
            context["verdict"]["original"] = f"{col['letter']} · {col['name']}"
    derived, source = (col["name"] for col in context["columns"])
    context["page_title"] = f"{derived} vs {source}"


# -- serving -----------------------------------------------------------------------------------


def serve(db: str | os.PathLike | None, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          options: Options | None = None) -> None:
    """Run the web app with uvicorn until interrupted. A non-loopback `host` needs a `token`."""
    import uvicorn

    if not is_loopback(host) and not token:
        raise ConfigError(f"--host {host} is reachable from other machines: give --token as well "
                          "(every request must then carry it), or bind 127.0.0.1")
    _check_store(db)
    allowed = () if token else ("127.0.0.1", "localhost", "[::1]", host)
    app = create_app(db, options, token=token, allowed_hosts=allowed)
    print(f"wiretrace: serving {db} on http://{host}:{port}/ (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


def _check_store(db: str | os.PathLike | None) -> None:
    """Refuse to start on a file that is not a usable store (wrong schema or fingerprint version);
    a store not created yet is only a warning: the compare page works without one."""
    from .store import Store

    if db is None:
        return
    try:
        Store(db, readonly=True).close()
    except StoreError as err:
        if Path(db).exists():
            raise
        print(f"wiretrace: {err}; until then only the compare page works", file=sys.stderr)
