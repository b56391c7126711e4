"""`export`: what a store holds, as JSONL, CSV or Parquet records for other tools.

Five kinds of record (`--what`):

* ``pairs`` — one per stored derived pair: ids, verdict, shares, original, confidence, credited;
* ``passages`` — one per run of consecutive reused sentences on either side of a stored pair,
  under passim's names where the meanings match: ``id`` (article), ``series`` (outlet), ``begin``
  and ``end`` (character offsets into the article's text), ``cluster`` (the reuse family, else the
  pair), ``size`` (members of that cluster) and ``src`` (the article the passage was taken from;
  empty on the source side), plus ``pair``, ``side``, ``labels`` and ``text``;
* ``families`` — one per reuse-family edge (parent → child);
* ``stories`` — one per article with its story;
* ``articles`` — one per stored article with its metadata and text.

Records are streamed to a temporary file beside `out`, which is renamed into place only when all
of them are written: an interrupted export leaves no half file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import InputError

KINDS = ("pairs", "passages", "families", "stories", "articles")
FORMATS = ("jsonl", "csv", "parquet")
REUSED = {"verbatim", "edited", "paraphrase"}

COLUMNS = {
    "pairs": ["derived", "source", "verdict", "derived_share", "source_share", "original", "confidence",
              "credited", "derived_outlet", "source_outlet", "derived_published", "source_published"],
    "passages": ["id", "series", "begin", "end", "cluster", "size", "src", "pair", "side", "labels", "text"],
    "families": ["family", "size", "parent", "child", "derived_share", "verdict", "confidence", "primary",
                 "credited"],
    "stories": ["story", "id", "outlet", "published", "title"],
    "articles": ["id", "url", "outlet", "published", "title", "language", "text"],
}


def export(store, what: str, fmt: str, out: str | os.PathLike) -> int:
    """Write every `what` record of `store` to `out` in format `fmt`; returns the record count."""
    if what not in KINDS:
        raise InputError(f"--what {what!r}: unknown; choose one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    records = _RECORDS[what](store)
    return write_records(records, COLUMNS[what], fmt, out)


# --- records ---------------------------------------------------------------------------------


def pair_records(store) -> Iterator[dict]:
    for p in store.iter_pairs():
        yield {"derived": p["derived"]["id"], "source": p["source"]["id"], "verdict": p["verdict"],
               "derived_share": p["derived_share"], "source_share": p["source_share"],
               "original": p["direction"]["original"], "confidence": p["direction"]["confidence"],
               "credited": p["credited"], "derived_outlet": p["derived"].get("outlet") or "",
               "source_outlet": p["source"].get("outlet") or "",
               "derived_published": p["derived"].get("published") or "",
               "source_published": p["source"].get("published") or ""}


def family_index(store) -> dict[str, tuple[str, int]]:
    """``{article id: (family id, family size)}`` of every article in a reuse family."""
    members: dict[str, set[str]] = {}
    for family, parent, child, _ in store.iter_families():
        members.setdefault(family, set()).update((parent, child))
    return {m: (f, len(ids)) for f, ids in members.items() for m in ids}


def passages(pair: dict) -> list[dict]:
    """Runs of consecutive reused sentences of one pair (contract JSON), on both sides."""
    derived, source = pair["derived"], pair["source"]
    key = f"{derived['id']}<{source['id']}"
    out = []
    for side, meta, labels, src in (("derived", derived, REUSED, source["id"]), ("source", source, {"used"}, "")):
        rows = sorted((s for s in pair["sentences"] if s["article"] == meta["id"] and s["label"] in labels),
                      key=lambda s: s["index"])
        for run in _runs(rows):
            out.append({"id": meta["id"], "series": meta.get("outlet") or "", "begin": run[0]["start"],
                        "end": run[-1]["end"], "src": src, "pair": key, "side": side,
                        "labels": ",".join(s["label"] for s in run), "text": " ".join(s["text"] for s in run)})
    return out


def _runs(rows: list[dict]) -> Iterator[list[dict]]:
    run: list[dict] = []
    for s in rows:
        if run and s["index"] != run[-1]["index"] + 1:
            yield run
            run = []
        run.append(s)
    if run:
        yield run


def passage_records(store) -> Iterator[dict]:
    families = family_index(store)
    for pair in store.iter_pairs():
        cluster, size = families.get(pair["derived"]["id"], (None, 0))
        if cluster is None or families.get(pair["source"]["id"], (None,))[0] != cluster:
            cluster, size = f"{pair['derived']['id']}<{pair['source']['id']}", 2
        for p in passages(pair):
            yield {**p, "cluster": cluster, "size": size}


def family_records(store) -> Iterator[dict]:
    sizes = {f: n for f, n in family_index(store).values()}
    for family, parent, child, data in store.iter_families():
        yield {"family": family, "size": sizes.get(family, 0), "parent": parent, "child": child,
               "derived_share": data.get("derived_share"), "verdict": data.get("verdict"),
               "confidence": data.get("confidence"), "primary": data.get("primary"),
               "credited": data.get("credited")}


def story_records(store) -> Iterator[dict]:
    for story, members in store.story_groups().items():
        for m in members:
            a = store.get_article(m)
            yield {"story": story, "id": a.id, "outlet": a.outlet, "published": a.published, "title": a.title}


def article_records(store) -> Iterator[dict]:
    for doc in store.iter_documents():
        a = doc.article
        yield {"id": a.id, "url": a.url, "outlet": a.outlet, "published": a.published, "title": a.title,
               "language": a.language, "text": a.text}


_RECORDS = {"pairs": pair_records, "passages": passage_records, "families": family_records,
            "stories": story_records, "articles": article_records}


# --- writers ---------------------------------------------------------------------------------


def write_records(records: Iterable[dict], columns: list[str], fmt: str, out: str | os.PathLike) -> int:
    """Stream `records` into a temporary file beside `out`, then rename it to `out`."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        count = _WRITERS[fmt](records, columns, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _jsonl(records: Iterable[dict], columns: list[str], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n")
            count += 1
    return count


def _csv(records: Iterable[dict], columns: list[str], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow(r)
            count += 1
    return count


_INTS = {"begin", "end", "size"}
_FLOATS = {"derived_share", "source_share", "confidence"}
_BOOLS = {"credited", "primary"}


def _schema(columns: list[str]):
    import pyarrow as pa

    def kind(c):
        return pa.int64() if c in _INTS else pa.float64() if c in _FLOATS else pa.bool_() if c in _BOOLS else pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def _parquet(records: Iterable[dict], columns: list[str], path: Path, batch: int = 4096) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, count, rows = _schema(columns), 0, []
    with pq.ParquetWriter(str(path), schema) as writer:
        for r in records:
            rows.append({c: r.get(c) for c in columns})
            count += 1
            if len(rows) >= batch:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows.clear()
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return count


_WRITERS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}
