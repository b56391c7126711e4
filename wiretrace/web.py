"""`wiretrace serve`: a web reader for provenance, over a read-only store.

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
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

from . import report
from .errors import ConfigError, InputError, MissingExtraError, NotFoundError, StoreError, WiretraceError
from .models import BODY, OMITTED, Alignment, Article, ChangedFact, Comparison, Direction, Document, Labelled, Match, Verdict
from .options import Options, load_options

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

MAX_MEMBERS = 500  # articles listed on a story page (the JSON says how many there are)
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
_WORD = re.compile(r"\w+", re.UNICODE)
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
        return render(request, "web_search.html", data | {"page_title": "search", "pieces": pieces})

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
            "page_title": f"family of {article_id}", "kind": "family",
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
    return render(request, "web_pair.html", context)


def omitted(comparison: Comparison) -> list[dict]:
    """The source body sentences the rewrite did not use, by the id the pair view gives them."""
    return [{"id": report.ref("S", x.sentence.index), "text": x.sentence.text}
            for x in comparison.alignment.source if x.label == OMITTED and x.sentence.role == BODY]


# -- page data: plain dicts, the JSON twins as they are ---------------------------------------------


class Pages:
    """What each page shows, as plain data, read from the store at `db_path` (read-only)."""

    def __init__(self, db_path: str | os.PathLike | None, options: Options):
        self.db_path = db_path
        self.options = options
        self._computed: dict[tuple[str, str], Comparison] = {}  # small cache of pairs computed here

    def store(self):
        if self.db_path is None:
            raise NotFoundError("no store to read: start the server with --db PATH "
                                "(the compare page works without one)")
        from .store import Store

        # One connection per request: cheap, and each request sees the latest batch `add` committed.
        return Store(self.db_path, readonly=True, timeout=self.options.store.busy_timeout)

    def search(self, q: str, outlet: str, since: str, until: str, limit: int) -> dict:
        with self.store() as store:
            found = store.search(q, outlet=outlet or None, since=since or None,
                                 until=until or None, limit=limit)
            outlets = list(store.outlets())
        return {"query": q, "outlet": outlet, "since": since, "until": until, "limit": limit,
                "outlets": [{"outlet": o, "articles": n} for o, n in outlets],
                "results": [meta(a) | {"snippet": snippet(a.text, q)} for a in found]}

    def article(self, article_id: str) -> dict:
        with self.store() as store:
            article = store.get_article(article_id)
            sources = [summary(p) for p in store.pairs_for(article_id, "derived")]
            derivatives = [summary(p) for p in store.pairs_for(article_id, "source")]
            story = store.story_of(article_id)
            story_size = len(store.story_members(story)) if story else 0
            family = store.family_of(article_id)
        return {"article": meta(article), "text": article.text, "sources": sources,
                "derivatives": derivatives, "story": story, "story_size": story_size, "family": family}

    def pair(self, derived_id: str, source_id: str) -> tuple[Comparison, dict, str]:
        """The pair as stored ("stored"), else computed now on the two stored documents and their
        stored vectors ("computed"; nothing is written, the last few are kept in memory)."""
        key = (derived_id, source_id)
        with self.store() as store:
            for d, s in (key, key[::-1]):
                data = store.get_pair(d, s)
                if data:
                    return from_contract(data, store.get_document(d), store.get_document(s)), data, "stored"
            if key not in self._computed:
                from . import api

                docs = store.get_document(derived_id), store.get_document(source_id)
                vectors = store.vectors(derived_id), store.vectors(source_id)
                if len(self._computed) >= 32:
                    self._computed.pop(next(iter(self._computed)))
                self._computed[key] = api.compare(*docs, self.options, vectors=vectors)
        comparison = self._computed[key]
        return comparison, comparison.to_dict(), "computed"

    def find_sources(self, article_id: str) -> list[dict]:
        """Likely sources searched now in the whole store (`wiretrace sources`), not stored."""
        from . import api

        with self.store() as store:
            return [summary(c.to_dict()) for c in api.sources(article_id, store, self.options)]

    def story(self, story_id: str) -> dict:
        with self.store() as store:
            ids = store.story_members(story_id)
            members = [meta(store.get_article(a)) for a in ids[:MAX_MEMBERS]]
        if not members:
            raise NotFoundError("no such story in the store", record=story_id)
        members.sort(key=lambda m: (not m.get("published"), _timestamp(m.get("published") or "")))  # undated last
        return {"story": story_id, "size": len(ids), "members": members}

    def family(self, article_id: str) -> dict:
        with self.store() as store:
            family = store.family_of(article_id)
            if not family:
                store.get_article(article_id)  # NotFoundError when the article itself is unknown
                family = {"members": [article_id], "edges": []}
            members = {m: meta(store.get_article(m)) for m in _member_ids(family)}
        return lineage(article_id, family, members)

    def compare_texts(self, fields: dict[str, str]) -> Comparison:
        from . import api

        articles = [_pasted(fields, side) for side in ("a", "b")]
        return api.compare(articles[0], articles[1], self.options)


def _pasted(fields: dict[str, str], side: str) -> Article:
    from .ingest import html_article, text_article

    text = fields.get(side, "")
    name = fields.get(f"{side}_name", "").strip()
    if name in ("", side.upper()):
        name = fields.get(f"{side}_file") or side.upper()
    if not text.strip():
        raise InputError(f"text {side.upper()} is empty: paste an article or choose a file", record=side)
    if text.lstrip()[:1] == "<" and "</" in text:
        return replace(html_article(text, name), path="")
    return text_article(text, name)


def web_link(url: str) -> str:
    """`url` when it is an http(s) address, else "": an article's url is untrusted data, and a
    ``javascript:`` or ``data:`` link must not become clickable."""
    return url if url.lower().startswith(("http://", "https://")) else ""


def snippet(text: str, query: str, width: int = 220) -> str:
    """About `width` characters of `text` on one line, around the first place a word of `query`
    occurs (the opening when none does), cut at spaces."""
    lowered = text.lower()
    hits = [m.start() for w in _WORD.findall(query.lower()) if (m := re.search(rf"\b{re.escape(w)}\b", lowered))]
    at = min(hits, default=0)
    begin = 0 if at < width // 3 else text.rfind(" ", 0, at - width // 3) + 1
    end = begin + width
    if end < len(text):
        cut = text.rfind(" ", at, end)
        end = cut if cut > at else end
    piece = " ".join(text[begin:end].split())
    return ("… " if begin else "") + piece + (" …" if end < len(text) else "")


def highlight(text: str, query: str) -> list[dict]:
    """`text` cut into plain and marked pieces, each word of `query` marked (for the template to
    escape and wrap; never markup in strings)."""
    words = sorted({w for w in _WORD.findall(query)}, key=len, reverse=True)
    if not words:
        return [{"text": text, "mark": False}]
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    pieces, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            pieces.append({"text": text[pos:m.start()], "mark": False})
        pieces.append({"text": m.group(0), "mark": True})
        pos = m.end()
    if pos < len(text) or not pieces:
        pieces.append({"text": text[pos:], "mark": False})
    return pieces


def meta(article: Article) -> dict:
    """An article's metadata: the contract's `derived`/`source` object."""
    return article.meta()


def summary(pair: dict) -> dict:
    """A pair's contract without its sentences: what the article page lists."""
    return {k: v for k, v in pair.items() if k != "sentences"}


def from_contract(data: dict, derived: Document, source: Document) -> Comparison:
    """A `Comparison` back from its JSON (a stored pair), over the two stored documents."""
    by_ref = {(s["article"], s["index"]): s for s in data.get("sentences", [])}

    def labelled(doc: Document) -> tuple[Labelled, ...]:
        rows = []
        for s in doc.sentences:
            d = by_ref.get((s.article, s.index), {})
            matches = tuple(Match(m["index"], m.get("lexical", 0.0), m.get("semantic", 0.0),
                                  tuple(tuple(x) for x in m.get("spans", ()))) for m in d.get("matches", ()))
            rows.append(Labelled(s, d.get("label") or "", matches, bool(d.get("quotation"))))
        return tuple(rows)

    direction = data.get("direction") or {}
    facts = tuple(ChangedFact(**f) for f in data.get("changed_facts", ()))
    verdict = Verdict(
        verdict=data["verdict"], derived_share=data.get("derived_share", 0.0),
        source_share=data.get("source_share", 0.0),
        direction=Direction(direction.get("original", ""), direction.get("confidence", 0.0),
                            tuple(direction.get("evidence", ()))),
        credited=bool(data.get("credited")), credit_evidence=tuple(data.get("credit_evidence", ())),
        shared_quotations=data.get("shared_quotations", 0),
    )
    return Comparison(derived, source, Alignment(labelled(derived), labelled(source), facts), verdict)


def _member_ids(family: dict) -> list[str]:
    ids = list(family.get("members", ()))
    for e in family.get("edges", ()):
        ids += [e["parent"], e["child"]]
    return list(dict.fromkeys(ids))


def lineage(article_id: str, family: dict, members: dict[str, dict]) -> dict:
    """The family as a tree from its original(s): each node an article, each child a rewrite of its parent."""
    edges = [{"verdict": None, "derived_share": None, "credited": None} | e for e in family.get("edges", ())]
    primary = [e for e in edges if e.get("primary", True)]  # the tree; others are second sources
    children: dict[str, list[dict]] = {}
    for e in primary:
        children.setdefault(e["parent"], []).append(e)
    has_parent = {e["child"] for e in primary}
    roots = [m for m in members if m not in has_parent] or list(members)[:1]
    also = {}
    for e in edges:
        if not e.get("primary", True):
            also.setdefault(e["child"], []).append(e["parent"])

    def node(mid: str, edge: dict | None, seen: frozenset) -> dict:
        kids = [] if mid in seen else sorted(children.get(mid, ()), key=lambda e: (  # oldest first, undated last
            not members[e["child"]].get("published"), _timestamp(members[e["child"]].get("published") or ""),
            e["child"]))
        delay = _delay(members[edge["parent"]], members[mid]) if edge else None
        return {"id": mid, "article": members[mid], "edge": edge, "delay": delay, "also_from": also.get(mid, []),
                "children": [node(e["child"], e, seen | {mid}) for e in kids]}

    data = {"family": ""} | {k: v for k, v in family.items() if k not in ("members", "edges")}
    return data | {"article": article_id, "roots": roots, "members": list(members.values()), "edges": edges,
                   "tree": [node(r, None, frozenset()) for r in roots]}


def _delay(parent: dict, child: dict) -> dict | None:
    """How long after its parent a rewrite was published: seconds and words ("3 h 20 min")."""
    if not parent.get("published") or not child.get("published"):
        return None
    seconds = _timestamp(child["published"]) - _timestamp(parent["published"])
    return {"seconds": seconds, "text": duration(seconds)}


def duration(seconds: float) -> str:
    """ "3 h 20 min later", "2 d 4 h later", "5 min earlier" (a child dated before its parent)."""
    way, s = ("later", seconds) if seconds >= 0 else ("earlier", -seconds)
    days, hours, minutes = int(s // 86400), int(s % 86400 // 3600), int(s % 3600 // 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * (bool(minutes) and not days)
    return (" ".join(parts) or "under a minute") + " " + way


def timeline(members: list[dict], edges: list[dict], width: int = 1240, row: int = 24) -> dict:
    """Geometry of the inline-SVG timeline: one row per article (oldest first), x by publication
    time, lines from each parent to its rewrites; undated articles sit in a column of their own."""
    dated = sorted((m for m in members if m.get("published")), key=lambda m: (_timestamp(m["published"]), m["id"]))
    undated = [m for m in members if not m.get("published")]
    times = [_timestamp(m["published"]) for m in dated]
    lo, hi = (min(times), max(times)) if times else (0.0, 0.0)
    left, right, undated_x = 12, 460, 500
    rows, where = [], {}
    for i, m in enumerate(dated + undated):
        t = times[i] if i < len(dated) else None
        x = undated_x if t is None else left + (right - left) * ((t - lo) / (hi - lo) if hi > lo else 0.0)
        y = 44 + i * row
        where[m["id"]] = (round(x, 1), y)
        label = " · ".join(p for p in (when(m.get("published", "")) or "undated", m.get("outlet", ""),
                                        (m.get("title") or m["id"])[:70]) if p)
        rows.append({"id": m["id"], "x": round(x, 1), "y": y, "label": label, "dated": t is not None})
    lines = [{"x1": where[e["parent"]][0], "y1": where[e["parent"]][1], "x2": where[e["child"]][0],
              "y2": where[e["child"]][1], "primary": e.get("primary", True)}
             for e in edges if e["parent"] in where and e["child"] in where]
    ticks = [{"x": left, "label": when(dated[0]["published"])}] if dated else []
    if hi > lo:
        ticks.append({"x": right, "label": when(dated[-1]["published"])})
    if undated:
        ticks.append({"x": undated_x, "label": "undated"})
    return {"width": width, "height": 54 + len(rows) * row, "rows": rows, "lines": lines, "ticks": ticks,
            "axis": {"x1": left, "x2": right}, "label_x": undated_x + 24,
            "start": when(dated[0]["published"]) if dated else "", "end": when(dated[-1]["published"]) if dated else ""}


def when(value: str) -> str:
    """A publication time as a reader compares them: "2018-07-15 11:54 UTC" (times with an offset
    converted to UTC, so rows from different time zones line up), a bare date as it is."""
    from datetime import datetime, timezone

    if len(value) <= 10:
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:16]
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _timestamp(value: str) -> float:
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


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
