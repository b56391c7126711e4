"""The corpus commands of the `wiretrace` command line: add, sources, scan, stories, show, export,
synth. Each parses its arguments, calls one library function of the same name and prints.

Imported by `wiretrace.cli`, which owns the `app` these register on.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from rich.console import Console

from .cli import Config, Json, app
from .errors import InputError, MissingExtraError
from .options import load_options

Db = Annotated[
    Optional[Path],
    typer.Option("--db", metavar="PATH", help="The store (default: $WIRETRACE_DB, else ./wiretrace.db)."),
]
Since = Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="Only articles published on "
                                              "or after this ISO date.")]
Until = Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="Only articles published on "
                                              "or before this ISO date.")]
Window = Annotated[Optional[float], typer.Option("--window", metavar="DAYS", help="Only pairs published at "
                                                 "most this many days apart.")]


def _console(stderr: bool = False) -> Console:
    """Rich console; tables are wide, so a pipe or file gets 160 columns rather than 80."""
    console = Console(stderr=stderr, soft_wrap=False)
    return console if console.is_terminal else Console(stderr=stderr, soft_wrap=False, width=160)


def _open_store(db: Optional[Path], options, readonly: bool = False):
    from .store import Store, default_path

    return Store(default_path(options, db), readonly=readonly, timeout=options.store.busy_timeout)


def _ingest_overrides(fields: dict[str, Optional[str]]) -> dict:
    chosen = {f"{name}_field": value for name, value in fields.items() if value}
    return {"ingest": chosen} if chosen else {}


def _dump(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _Field(name: str, what: str):  # noqa: N802 - it makes a type annotation
    """The `--NAME-field` option of `add`: which record field holds `what`."""
    return Annotated[Optional[str], typer.Option(f"--{name}-field", metavar="NAME",
                                                 help=f"Record field holding the {what} (default: {name}).")]


@app.command()
def add(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Files or folders (recursive) of "
                     "text, HTML, JSON, JSONL, CSV, Parquet or WARC; '-' reads JSONL from stdin.",
                     show_default=False)],
    db: Db = None,
    id_field: _Field("id", "article id") = None,
    text_field: _Field("text", "text") = None,
    title_field: _Field("title", "title") = None,
    url_field: _Field("url", "URL") = None,
    outlet_field: _Field("outlet", "outlet") = None,
    published_field: _Field("published", "publication date") = None,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Add articles to the store: read, segment, fingerprint and index them.

    Each batch is one transaction, so an error or Ctrl-C loses nothing already stored. Re-adding an
    article with the same id and text does nothing; with a new text it replaces the old one. Bad
    records are reported as FILE:LINE: reason and skipped; the exit code is 2 when any failed.
    """
    from .api import add as add_articles
    from .evaluate import _progress_bar

    fields = {"id": id_field, "text": text_field, "title": title_field, "url": url_field,
              "outlet": outlet_field, "published": published_field}
    options = load_options(config, overrides=_ingest_overrides(fields))
    with _open_store(db, options) as store, _progress_bar(sys.stderr.isatty()) as bar:
        report = add_articles(paths, store, options, progress=bar(None, "records read"))
    for error in report.errors:
        typer.echo(str(error), err=True)
    if as_json:
        _dump({"added": report.added, "replaced": report.replaced, "unchanged": report.unchanged,
               "failed": report.failed, "seconds": round(report.seconds, 2),
               "errors": [e.to_dict() for e in report.errors]})
    else:
        _console(stderr=True).print(
            f"{report.added} added ({report.replaced} replaced), {report.unchanged} unchanged, "
            f"{report.failed} failed, in {report.seconds:.1f} s", highlight=False)
    if report.failed:
        raise typer.Exit(2)


@app.command()
def sources(
    article: Annotated[str, typer.Argument(metavar="ARTICLE", help="A stored article id or an article file.",
                                           show_default=False)],
    db: Db = None,
    top: Annotated[int, typer.Option("--top", metavar="N", help="Show at most N sources.")] = 10,
    since: Since = None,
    until: Until = None,
    window: Annotated[Optional[float], typer.Option("--window", metavar="DAYS", help="Only sources published "
                      "at most this many days before or after ARTICLE.")] = None,
    outlet: Annotated[Optional[list[str]], typer.Option("--outlet", metavar="NAME", help="Only sources from "
                      "this outlet (repeatable).")] = None,
    exclude_outlet: Annotated[Optional[list[str]], typer.Option("--exclude-outlet", metavar="NAME",
                              help="No sources from this outlet (repeatable).")] = None,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Which stored articles was ARTICLE written from? Ranked likely sources, each with verdict,
    shares of text reused, direction and credit."""
    from . import api
    from .index import Filters

    options = load_options(config)
    filters = Filters(since or "", until or "", window, tuple(outlet or ()), tuple(exclude_outlet or ()))
    with _open_store(db, options, readonly=True) as store:
        found = api.sources(article, store, options, top=top, filters=filters)
    if as_json:
        _dump([c.to_dict() for c in found])
        return
    _print_sources(article, found)


def _print_sources(article: str, found) -> None:
    from rich.table import Table

    console = _console()
    if not found:
        console.print(f"no stored article looks like a source of {article}", highlight=False)
        return
    table = Table("rank", "source", "outlet", "published", "verdict", "derived", "source share", "original",
                  "credited", title=f"sources of {found[0].derived.article.id}")
    for rank, c in enumerate(found, 1):
        s, v = c.source.article, c.verdict
        table.add_row(str(rank), s.id, s.outlet, s.published[:10], v.verdict, f"{v.derived_share:.2f}",
                      f"{v.source_share:.2f}", f"{v.direction.original} ({v.direction.confidence:.2f})",
                      "yes" if v.credited else "no")
    console.print(table)


@contextmanager
def _dask_executor(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError("--dask needs Dask: pip install 'wiretrace[dask]'") from None
    try:
        client = Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        yield client.get_executor()
    finally:
        client.close()


@app.command()
def scan(
    inputs: Annotated[Optional[list[str]], typer.Argument(metavar="[PATH...]", help="Scan these files or "
                      "folders (in a temporary store) instead of the store.", show_default=False)] = None,
    db: Db = None,
    since: Since = None,
    until: Until = None,
    window: Window = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", help="Processes aligning "
                       "candidate pairs (default: one per CPU core).")] = None,
    dask: Annotated[Optional[str], typer.Option("--dask", metavar="ADDRESS", help="Align on this Dask "
                    "scheduler's workers (pip install 'wiretrace\\[dask]'); they must see the store at "
                    "the same path.")] = None,
    recluster: Annotated[bool, typer.Option("--recluster", help="Cluster every article into stories "
                         "again (by default a scan that adds at most cluster.place_share of the store "
                         "places the new articles into the stored stories).")] = False,
    all_pairs: Annotated[bool, typer.Option("--all-pairs", help="Align every candidate pair, also two "
                         "articles whose shared text is all in an article published before both (by "
                         "default such copies of one story are left out: each is compared with it).")] = False,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Find every derived pair in the store, then its reuse families and stories.

    Results are stored; a second scan after `add` only compares the new articles' candidates and
    places them into the stored stories.
    """
    from contextlib import nullcontext

    from .corpus import scan as scan_corpus
    from .evaluate import _progress_bar

    overrides: dict = {"scan": {"window_days": window}} if window is not None else {}
    if recluster:
        overrides["cluster"] = {"place_share": 0.0}
    if all_pairs:
        overrides.setdefault("scan", {})["explained"] = False
    options = load_options(config, overrides=overrides)
    with _dask_executor(dask) if dask else nullcontext() as executor, _progress_bar(sys.stderr.isatty()) as bar:
        kwargs = {"since": since or "", "until": until or "", "workers": workers, "executor": executor}
        if inputs:
            report = scan_corpus(inputs, options, bar, **kwargs)
        else:
            with _open_store(db, options) as store:
                report = scan_corpus(store, options, bar, **kwargs)
    for error in report.errors:
        typer.echo(f"warning: {error}", err=True)
    if as_json:
        _dump(report.to_dict())
        return
    largest = report.families[0] if report.families else None
    _console().print(
        f"{report.articles} articles, {report.scanned} scanned ({report.skipped} already done), "
        f"{report.compared} pairs aligned, {report.pairs_found} derived"
        + (f" ({report.explained} more left out: all they share is in an earlier article)" if report.explained else "")
        + f"; {len(report.families)} reuse "
        f"families" + (f" (largest {largest.size}, root {largest.root})" if largest else "")
        + f", {report.stories} stories"
        + (f" ({report.placed} new article{'s' * (report.placed > 1)} placed into them)" if report.placed else "")
        + f"; {report.seconds:.1f} s", highlight=False)


@app.command()
def stories(
    db: Db = None,
    top: Annotated[int, typer.Option("--top", metavar="N", help="Show at most N stories (0: all).")] = 20,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """List the stories found by the last scan, largest first."""
    from . import api
    from rich.table import Table

    options = load_options(config)
    with _open_store(db, options, readonly=True) as store:
        found = api.stories(store)
    shown = found[:top] if top else found
    if as_json:
        _dump(shown)
        return
    table = Table("story", "articles", "first", "outlets", "title", title=f"{len(found)} stories")
    for s in shown:
        table.add_row(s["story"], str(s["size"]), s["first"][:10], str(len(s["outlets"])), s["title"][:70])
    _console().print(table)


@app.command()
def show(
    ident: Annotated[str, typer.Argument(metavar="STORY|ARTICLE", help="A story id (story:...) or an "
                                         "article id.", show_default=False)],
    db: Db = None,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Show one story with its articles, or one article with its story, family and pairs."""
    from . import api

    options = load_options(config)
    with _open_store(db, options, readonly=True) as store:
        data = api.show(store, ident)
    if as_json:
        _dump(data)
        return
    console = _console()
    if data["kind"] == "story":
        console.print(f"{data['story']}: {data['size']} articles", highlight=False)
        for m in data["members"]:
            family = f"  family {m['family']}" if m["family"] else ""
            console.print(f"  {m['id']}  {m['outlet']}  {m['published'][:10]}  {m['title'][:60]}{family}",
                          highlight=False)
        return
    a = data["article"]
    meta = "  ".join(x for x in (a["outlet"], a["published"], a["url"]) if x)
    console.print(f"{a['id']}: {a['title']}\n" + (f"  {meta}\n" if meta else "") +
                  f"  story {data['story'] or '-'}; family "
                  f"{data['family']['family'] + ' (' + str(len(data['family']['members'])) + ' articles)' if data['family'] else '-'}",
                  highlight=False)
    if data["family"]:
        _print_tree(console, data["family"])
    for heading, rows, other in (("written from", data["sources"], "source"), ("rewritten by", data["derived"], "derived")):
        for p in rows:
            console.print(f"  {heading} {p[other]}: {p['verdict']}, derived share {p['derived_share']:.2f}, "
                          f"credited {'yes' if p['credited'] else 'no'}", highlight=False)


def _print_tree(console, family: dict) -> None:
    """The family as a lineage tree from its root; second parents are noted, not repeated."""
    children: dict[str, list[dict]] = {}
    for e in family["edges"]:
        if e.get("primary", True):
            children.setdefault(e["parent"], []).append(e)
    extra = {e["child"]: e["parent"] for e in family["edges"] if not e.get("primary", True)}
    todo = [(family["family"], 0, None)]
    while todo:
        node, depth, edge = todo.pop()
        share = f"  ({edge['derived_share']:.2f} of its text, {edge['verdict']})" if edge else "  (original)"
        also = f"; also from {extra[node]}" if node in extra else ""
        console.print(f"  {'   ' * depth}{node}{share}{also}", highlight=False)
        todo.extend((e["child"], depth + 1, e) for e in sorted(children.get(node, []), key=lambda e: e["child"], reverse=True))


@app.command()
def export(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="The file to write.", show_default=False)],
    what: Annotated[str, typer.Option("--what", help="pairs, passages, families, stories or articles.")] = "pairs",
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet.")] = "jsonl",
    db: Db = None,
    config: Config = None,
) -> None:
    """Export pairs, passages (passim-compatible names), families, stories or articles from the
    store as JSONL, CSV or Parquet; OUT appears only once it is complete."""
    from .export import export as export_records

    options = load_options(config)
    with _open_store(db, options, readonly=True) as store:
        count = export_records(store, what, fmt, out)
    _console(stderr=True).print(f"{count} {what} records written to {out}", highlight=False)


@app.command()
def synth(
    n: Annotated[int, typer.Argument(metavar="N", help="How many articles to write.", show_default=False)],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder for articles.jsonl and truth.jsonl.",
                                        show_default=False)],
    data: Annotated[Optional[list[Path]], typer.Option("--from", metavar="DIR", help="Real articles to "
                    "build from: a folder of evaluation sets (like shared/data) or of article files "
                    "(repeatable; default: the bundled examples and ../shared/data if present).")] = None,
    share: Annotated[float, typer.Option("--rewrites", metavar="SHARE", help="Share of the N articles that "
                     "are planted rewrites.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    config: Config = None,
) -> None:
    """Write a synthetic corpus of N articles with planted rewrites of known kinds (verbatim,
    trimmed, edited, reordered, paraphrased, composite) and the ground truth."""
    from .synth import synth as synth_corpus

    options = load_options(config)
    counts = synth_corpus(n, out, data, share=share, seed=seed, options=options)
    _console(stderr=True).print(f"{sum(counts.values())} articles in {out}/articles.jsonl ("
                                + ", ".join(f"{k} {v}" for k, v in counts.items())
                                + f"); ground truth in {out}/truth.jsonl", highlight=False)
