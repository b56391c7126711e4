"""Show a `Comparison`: in the terminal (rich), as the JSON contract, and as one self-contained HTML page.

Sentences are named by their article side and index, `D4` for the derived article's sentence 4 and
`S7` for the source's sentence 7, in all three outputs, so a reader can cross-reference them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .ingest import holds_one_article
from .models import (
    BOILERPLATE,
    EDITED,
    NEW,
    NOT_DERIVED,
    OMITTED,
    PARAPHRASE,
    PARTIALLY,
    TITLE,
    USED,
    VERBATIM,
    WHOLLY,
    Article,
    Comparison,
    Labelled,
)

TEMPLATES = Path(__file__).parent / "templates"

LABEL_STYLES = {
    VERBATIM: "bold red",
    EDITED: "dark_orange",
    PARAPHRASE: "magenta",
    NEW: "bold green",
    USED: "cyan",
    OMITTED: "dim",
    TITLE: "bold dim",
    BOILERPLATE: "dim",
}
VERDICT_STYLES = {WHOLLY: "bold red", PARTIALLY: "bold yellow", NOT_DERIVED: "bold green"}

LEGEND = (
    (VERBATIM, "copied word for word"),
    (EDITED, "copied with some words changed"),
    (PARAPHRASE, "the same content re-worded"),
    (NEW, "not in the source"),
    (USED, "source sentence the rewrite reused"),
    (OMITTED, "source sentence the rewrite left out"),
    (TITLE, "headline"),
    (BOILERPLATE, "page furniture, not counted"),
)


def ref(side: str, index: int) -> str:
    """`D4` / `S7`: how every output names a sentence of the derived / source article."""
    return f"{side[0].upper()}{index}"


def percent(share: float) -> str:
    return f"{round(100 * share)}%"


def article_name(article: Article) -> str:
    """The short name a reader knows an article by: its file name when it came from a file of
    its own, else its id (every record of a JSONL, CSV, Parquet or WARC file has the same path)."""
    return Path(article.path).stem if article.path and holds_one_article(article.path) else article.id


# -- JSON ---------------------------------------------------------------------------------------


def to_json(comparison: Comparison) -> str:
    """The JSON contract of `compare --json` (see PRODUCT.md), UTF-8 text kept as is."""
    return json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2)


# -- terminal -----------------------------------------------------------------------------------


def render_terminal(comparison: Comparison, console: Console | None = None) -> None:
    """Print the verdict and its evidence, then the derived article sentence by sentence, then
    what the source lost. Readable at 100 columns and without colour (piped)."""
    console = console or Console()
    derived, source = comparison.alignment.derived, comparison.alignment.source
    console.print(Panel(_summary(comparison), title="wiretrace compare", title_align="left", box=box.ROUNDED))
    console.print(Text(f"Derived article D ({comparison.derived.article.id}), sentence by sentence", "bold"))
    console.print(_sentence_table(derived, "D", "S", console.width))
    used = [x for x in source if x.label == USED]
    omitted = [x for x in source if x.label == OMITTED]
    console.print(Text(
        f"Source article S ({comparison.source.article.id}): {len(used)} of {len(used) + len(omitted)} "
        f"body sentences used, {len(omitted)} omitted", "bold"))
    if used:
        console.print(Text("used: " + " ".join(ref("S", x.sentence.index) for x in used), LABEL_STYLES[USED]))
    if omitted:
        console.print(_sentence_table(omitted, "S", "D", console.width))


def _summary(comparison: Comparison) -> Table:
    v, alignment = comparison.verdict, comparison.alignment
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("verdict", Text(v.verdict, VERDICT_STYLES.get(v.verdict, "bold")))
    grid.add_row("derived (D)", _describe(comparison.derived.article))
    grid.add_row("source (S)", _describe(comparison.source.article))
    grid.add_row("derived share", f"{percent(v.derived_share)} of the derived body's words come from the source")
    grid.add_row("source share", f"{percent(v.source_share)} of the source body's words were reused")
    grid.add_row("original", _bullets(f"{_side_of(comparison, v.direction.original)}, confidence "
                                      f"{v.direction.confidence:.2f}", v.direction.evidence))
    grid.add_row("credited", _bullets("yes" if v.credited else "no", v.credit_evidence))
    if v.shared_quotations:
        grid.add_row("shared quotes", f"{v.shared_quotations} sentence(s) matched only through a shared "
                                      "quotation, not counted as copying")
    for fact in alignment.changed_facts:
        grid.add_row("changed fact", Text.assemble(
            (f"{ref('D', fact.derived_index)} vs {ref('S', fact.source_index)} ", "bold"),
            f'{fact.kind}: "{fact.derived}" in D, "{fact.source}" in S'))
    return grid


def _describe(article: Article) -> Text:
    parts = [article.id, article.title, article.outlet, article.published]
    return Text(" · ".join(p for p in parts if p))


def _side_of(comparison: Comparison, article_id: str) -> str:
    for letter, doc in (("S", comparison.source), ("D", comparison.derived)):
        if doc.article.id == article_id:
            return f"{letter} ({article_id})"
    return article_id or "undecided"


def _bullets(head: str, lines: Iterable[str]) -> Text:
    text = Text(head)
    for line in lines:
        text.append(f"\n• {line}")
    return text


def _sentence_table(rows: Iterable[Labelled], own: str, other: str, width: int) -> Table:
    """One row per sentence: `D4  paraphrase  text  → S7 lex 0.31 sem 0.88`. Below 100 columns
    the counterparts go under the text, so the text keeps most of the width."""
    wide = width >= 100
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False, expand=True)
    table.add_column("ref", no_wrap=True, style="bold")
    table.add_column("label", no_wrap=True)
    table.add_column("sentence", ratio=1, overflow="fold")
    if wide:
        table.add_column("counterpart", no_wrap=True)
    for x in rows:
        s = x.sentence
        marked = s.role in (TITLE, BOILERPLATE)
        label = Text(s.role if marked else x.label, LABEL_STYLES.get(s.role if marked else x.label, ""))
        text = Text(s.text, "dim" if marked else "")
        counterparts = _counterparts(x, other)
        if wide:
            table.add_row(ref(own, s.index), label, text, counterparts)
        else:
            table.add_row(ref(own, s.index), label, Text("\n").join([text, counterparts]) if counterparts else text)
    return table


def _counterparts(x: Labelled, other: str) -> Text:
    lines = [f"→ {ref(other, m.index)} lex {m.lexical:.2f} sem {m.semantic:.2f}" for m in x.matches]
    if x.quotation:
        lines.append("(shared quotation)")
    if x.sentence.rule and x.sentence.role == BOILERPLATE:
        lines.append(f"({x.sentence.rule})")
    return Text("\n".join(lines), "dim" if x.quotation or x.sentence.role == BOILERPLATE else "")


def summary_row(name: str, comparison: Comparison) -> dict:
    """The headline numbers of one compared pair (the demo's table, as data)."""
    v = comparison.verdict
    original = next((article_name(d.article) for d in (comparison.source, comparison.derived)
                     if d.article.id == v.direction.original), v.direction.original)
    return {
        "pair": name,
        "verdict": v.verdict,
        "derived_share": round(v.derived_share, 4),
        "source_share": round(v.source_share, 4),
        "original": original,
        "confidence": round(v.direction.confidence, 3),
        "credited": v.credited,
        "changed_facts": len(comparison.alignment.changed_facts),
    }


def render_summary(rows: Iterable[tuple[str, Comparison]], console: Console | None = None) -> None:
    """One line per compared pair: verdict, derived share, which is the original, credit and the
    number of changed facts (`summary_row` has them all, source share and confidence too)."""
    console = console or Console()
    table = Table(box=None, pad_edge=False, header_style="bold underline")
    for name in ("pair", "verdict", "derived", "original", "credited", "changed"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("derived", "changed") else "left")
    for name, comparison in rows:
        r = summary_row(name, comparison)
        table.add_row(name, Text(r["verdict"], VERDICT_STYLES.get(r["verdict"], "")), percent(r["derived_share"]),
                      r["original"] or "undecided", "yes" if r["credited"] else "no", str(r["changed_facts"]))
    console.print(table)


# -- HTML ---------------------------------------------------------------------------------------


def pair_context(comparison: Comparison) -> dict:
    """Everything the `pair.html` template (and the web app's pair view) shows, as plain data."""
    v, alignment = comparison.verdict, comparison.alignment
    links = _links(alignment.derived, alignment.source)
    derived = _column("derived", comparison.derived.article, alignment.derived, links)
    source = _column("source", comparison.source.article, alignment.source, links)
    original = next((col for col in (source, derived) if col["article"]["id"] == v.direction.original), None)
    return {
        "page_title": f"wiretrace: {derived['name']} vs {source['name']}",
        "verdict": {
            "verdict": v.verdict,
            "slug": v.verdict.replace(" ", "-"),
            "derived_share": percent(v.derived_share),
            "source_share": percent(v.source_share),
            "original": original["letter"] + " · " + original["name"] if original else "undecided",
            "confidence": f"{v.direction.confidence:.2f}",
            "evidence": list(v.direction.evidence),
            "credited": v.credited,
            "credit_evidence": list(v.credit_evidence),
            "shared_quotations": v.shared_quotations,
        },
        "changed_facts": [
            {"derived": ref("D", f.derived_index), "source": ref("S", f.source_index), "kind": f.kind,
             "derived_value": f.derived, "source_value": f.source}
            for f in alignment.changed_facts
        ],
        "columns": [derived, source],
        "legend": [{"label": label, "text": text} for label, text in LEGEND],
    }


def _links(derived: tuple[Labelled, ...], source: tuple[Labelled, ...]) -> dict[str, list[str]]:
    """Counterparts of every sentence id, both ways, only towards sentences that exist."""
    sides = (("D", derived, "S"), ("S", source, "D"))
    existing = {ref(letter, x.sentence.index) for letter, rows, _ in sides for x in rows}
    links: dict[str, list[str]] = {}
    for letter, rows, other in sides:
        for x in rows:
            here = ref(letter, x.sentence.index)
            for m in x.matches:
                there = ref(other, m.index)
                if there in existing:
                    for a, b in ((here, there), (there, here)):
                        if b not in links.setdefault(a, []):
                            links[a].append(b)
    return links


def _column(side: str, article: Article, rows: tuple[Labelled, ...], links: dict[str, list[str]]) -> dict:
    letter = side[0].upper()
    paragraphs: list[list[dict]] = []
    last = None
    for x in rows:
        if x.sentence.paragraph != last or x.sentence.role == TITLE or not paragraphs:
            paragraphs.append([])
            last = x.sentence.paragraph
        paragraphs[-1].append(_sentence(letter, x, links))
    return {
        "side": side,
        "letter": letter,
        "name": article_name(article),
        "article": article.meta(),
        "paragraphs": paragraphs,
    }


def _sentence(letter: str, x: Labelled, links: dict[str, list[str]]) -> dict:
    s = x.sentence
    sid = ref(letter, s.index)
    other = "S" if letter == "D" else "D"
    label = x.label if s.role not in (TITLE, BOILERPLATE) else ""
    tip = [label or s.role] + [f"{ref(other, m.index)} lex {m.lexical:.2f} sem {m.semantic:.2f}" for m in x.matches]
    if x.quotation:
        tip.append("shared quotation")
    if s.rule:
        tip.append(s.rule)
    return {
        "id": sid,
        "role": s.role,
        "label": label,
        "classes": " ".join(c for c in ("wt-sent", s.role, label, "quotation" if x.quotation else "") if c),
        "links": links.get(sid, []),
        "tip": f"{sid}: " + ", ".join(tip),
        "segments": _segments(s.text, s.start, [span for m in x.matches for span in m.spans]),
    }


def _segments(text: str, start: int, spans: Iterable[tuple[int, int]]) -> list[dict]:
    """The sentence cut into plain and marked (matched-word) pieces; spans are article offsets."""
    inside = sorted((max(a - start, 0), min(b - start, len(text))) for a, b in spans)
    merged: list[list[int]] = []
    for a, b in inside:
        if a >= b:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    pieces, pos = [], 0
    for a, b in merged:
        if a > pos:
            pieces.append({"text": text[pos:a], "mark": False})
        pieces.append({"text": text[a:b], "mark": True})
        pos = b
    if pos < len(text) or not pieces:
        pieces.append({"text": text[pos:], "mark": False})
    return pieces


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of wiretrace's templates; autoescaping on for everything."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(comparison: Comparison) -> str:
    """One self-contained page (inline CSS and JS, nothing fetched from the network)."""
    return environment().get_template("pair.html").render(pair_context(comparison))


def write_html(comparison: Comparison, path: str | os.PathLike) -> Path:
    """Write the HTML report; a reader never sees a half-written file (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(comparison)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
