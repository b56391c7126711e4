"""What each page of `wiretrace serve` shows, as plain data: the JSON twins as they are, and the
few derived values (snippets, lineage tree, timeline geometry) the templates draw.

No web framework here: `Pages` reads the store, the functions are pure, so all of it is tested
without a server. `web` turns these dicts into responses.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime, timezone

from . import report
from .errors import InputError, NotFoundError
from .models import BODY, OMITTED, Alignment, Article, ChangedFact, Comparison, Direction, Document, Labelled, Match, Verdict
from .options import Options

MAX_MEMBERS = 500  # articles listed on a story page (the JSON says how many there are)
_WORD = re.compile(r"\w+", re.UNICODE)


def omitted(comparison: Comparison) -> list[dict]:
    """The source body sentences the rewrite did not use, by the id the pair view gives them."""
    return [{"id": report.ref("S", x.sentence.index), "text": x.sentence.text}
            for x in comparison.alignment.source if x.label == OMITTED and x.sentence.role == BODY]


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
        return {"id": mid, "article": members[mid], "when": when(members[mid].get("published") or ""),
                "edge": edge, "delay": delay, "also_from": also.get(mid, []),
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
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
