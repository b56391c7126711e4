"""The verbs of wiretrace as plain functions; the CLI and the web app call these."""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .align import embedding_texts
from .corpus import compare_documents
from .errors import InputError, NotFoundError
from .index import CandidateIndex, Filters, signature, signatures
from .ingest import iter_articles, read_article
from .models import NOT_DERIVED, Article, Comparison, Document
from .options import Options, load_options
from .segment import segment
from .store import text_hash, unit_starts


def read(item: str | os.PathLike | Article | Document, options: Options | None = None) -> Document:
    """A segmented article from a path, an `Article` or an already segmented `Document`."""
    options = options or load_options()
    if isinstance(item, Document):
        return item
    article = item if isinstance(item, Article) else read_article(Path(item), options.ingest)
    return segment(article, options.segment)


def embed(doc: Document, options: Options | None = None) -> np.ndarray:
    """Embeddings of a document's body sentences and their clauses (`align.embedding_texts`)."""
    options = options or load_options()
    return fp.get_encoder(options.fingerprint).encode(embedding_texts(doc))


def compare(a, b, options: Options | None = None, *, vectors: tuple[np.ndarray, np.ndarray] | None = None) -> Comparison:
    """Is one of `a` and `b` a rewrite of the other? Paths, Articles or Documents, in any order.

    The original is decided from the evidence; with none either way `b` is taken as the source.
    `vectors`: `embed` of `a` and of `b` when already known (from the store), not recomputed.
    """
    options = options or load_options()
    t0 = time.perf_counter()
    x, y = read(a, options), read(b, options)
    if x.article.id == y.article.id:
        # Sentences carry their article's id: the two sides must not share one.
        y = read(replace(y.article, id=y.article.id + "~2"), options)
    t1 = time.perf_counter()
    vx, vy = vectors if vectors is not None else (embed(x, options), embed(y, options))
    t2 = time.perf_counter()
    comparison = compare_documents(x, y, vx, vy, options)
    t3 = time.perf_counter()
    return replace(comparison, timings={"read": t1 - t0, "embed": t2 - t1, "align": t3 - t2})


@dataclass
class AddReport:
    """What `add` did: articles added (new or with a changed text), replaced (of the added, those
    that replaced a stored article of the same id), unchanged (already stored with the same text)
    and the records that could not be read (`errors`, each naming its file and line)."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    errors: list[InputError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def records(self) -> int:
        return self.added + self.unchanged + self.failed


def add(paths, store, options: Options | None = None, progress=None) -> AddReport:
    """Read, segment, fingerprint and store every article under `paths` (files and folders of any
    format `ingest` reads), one transaction per batch of `store.batch_size` articles. Bad records
    are collected in the report, not raised. `progress(n)` is called after each batch with the
    number of records it held. Interrupted, the store keeps every batch committed so far."""
    options = options or load_options()
    encoder = fp.get_encoder(options.fingerprint)
    store.check_fingerprint(encoder.name, encoder.dim, options.fingerprint.num_perm)
    report, start, cache = AddReport(), time.perf_counter(), fp.VectorCache()
    for docs, sigs, errors in _prepared(paths, options):
        stored = store.stored_hashes([d.article.id for d in docs])
        # Unchanged articles are not embedded again: re-adding a corpus costs only the reading.
        new = [k for k, d in enumerate(docs) if stored.get(d.article.id) != text_hash(d.article.text)]
        counts = store.add_documents([docs[k] for k in new], _embed_batch([docs[k] for k in new], options, cache),
                                     [sigs[k] for k in new])
        report.added += counts[0]
        report.replaced += counts.replaced
        report.unchanged += counts[1] + len(docs) - len(new)
        report.errors += errors
        if progress:
            progress(len(docs) + len(errors))
    CandidateIndex.open(store, options).save(store.path)
    report.seconds = time.perf_counter() - start
    return report


def _embed_batch(docs: list[Document], options: Options, cache: fp.VectorCache | None = None) -> list[np.ndarray]:
    """`embed` of each document, in one encoder call for the whole batch (only for sentences
    the cache does not hold)."""
    texts = [embedding_texts(d) for d in docs]
    flat = [t for ts in texts for t in ts]
    encoder = fp.get_encoder(options.fingerprint)
    vectors = cache.encode(encoder, flat) if cache is not None else encoder.encode(flat)
    return np.split(vectors, np.cumsum([len(ts) for ts in texts])[:-1]) if docs else []


def _prepared(paths, options: Options):
    """Batches of ``(documents, signatures, errors)``, read, segmented and MinHashed one batch
    ahead in a thread, so that this work overlaps the embedding of the batch before (the encoder
    spends its time in numpy, outside the GIL)."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                return batches.put(item, timeout=0.1)
            except queue.Full:
                continue

    def work() -> None:
        try:
            for items in _chunks(iter_articles(paths, options.ingest), options.store.batch_size):
                errors = [x for x in items if isinstance(x, InputError)]
                docs = [segment(x, options.segment) for x in items if not isinstance(x, InputError)]
                put((docs, list(signatures(docs, options)), errors))
                if stop.is_set():
                    return
            put(None)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            put(exc)

    threading.Thread(target=work, name="wiretrace-add-reader", daemon=True).start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def sources(article, store, options: Options | None = None, top: int = 10,
            filters: Filters | None = None) -> list[Comparison]:
    """The stored articles that `article` (a stored id, a path, an `Article` or a `Document`) was
    derived from, best first (by derived_share, then direction confidence). Candidates come from
    the index; each is aligned in full. Pairs judged "not derived", or where `article` comes out as
    the original, are left out."""
    options = options or load_options()
    doc, vectors, sig = _query_side(article, store, options)
    index = CandidateIndex.open(store, options)
    candidates = index.query(sig, vectors[unit_starts(doc)[:-1]], options.index.candidates,
                             (filters or Filters()).around(doc.article.published), exclude={doc.article.id})
    found = []
    for c in candidates:
        comparison = compare(doc, store.get_document(c.id), options, vectors=(vectors, store.vectors(c.id)))
        if comparison.verdict.verdict != NOT_DERIVED and comparison.source.article.id == c.id:
            found.append(comparison)
    found.sort(key=lambda x: (-x.verdict.derived_share, -x.verdict.direction.confidence, x.source.article.id))
    return found[:top]


def _query_side(article, store, options: Options) -> tuple[Document, np.ndarray, np.ndarray]:
    """Document, embeddings and signature of a `sources` query: from the store for a stored id
    (nothing recomputed), else read from the file or object."""
    if isinstance(article, str) and store.has(article):
        return store.get_document(article), store.vectors(article), store.signature(article)
    if isinstance(article, (str, os.PathLike)) and not Path(article).exists():
        raise NotFoundError("neither a stored article id nor a file; give an id from `wiretrace add` "
                            "or the path of an article file", path=store.path, record=str(article))
    encoder = fp.get_encoder(options.fingerprint)
    # A file is embedded here: with another model than the store's its vectors would not compare.
    store.check_fingerprint(encoder.name, encoder.dim, options.fingerprint.num_perm)
    doc = read(article, options)
    return doc, embed(doc, options), signature(doc, options)


def stories(store) -> list[dict]:
    """The stored stories (from the last `scan`), largest first: ``{"story", "size", "title",
    "first", "outlets", "members"}``, where `title` and `first` are those of the earliest member."""
    out = []
    for story, members in store.story_groups().items():
        articles = [store.get_article(m) for m in members]
        first = min(articles, key=lambda a: (not a.published, a.published, a.id))
        outlets = sorted({a.outlet for a in articles if a.outlet})
        out.append({"story": story, "size": len(members), "title": first.title, "first": first.published,
                    "outlets": outlets, "members": members})
    return sorted(out, key=lambda s: (-s["size"], s["story"]))


def show(store, ident: str) -> dict:
    """One story (``story:…`` id) with its members, or one stored article with its story, reuse
    family and the stored pairs that name it (as the rewrite and as the source)."""
    groups = store.story_groups()
    if ident in groups:
        members = [_summary(store.get_article(m)) | {"family": (store.family_of(m) or {}).get("family")}
                   for m in groups[ident]]
        return {"kind": "story", "story": ident, "size": len(members), "members": members}
    if ident.startswith("story:") and not store.has(ident):
        raise NotFoundError("no such story in the store; `wiretrace stories` lists them (after a `scan`)",
                            path=store.path, record=ident)
    article = store.get_article(ident)  # NotFoundError names the id
    pairs = store.pairs_for(ident)
    return {"kind": "article", "article": _summary(article), "story": store.story_of(ident),
            "family": store.family_of(ident),
            "sources": [_pair_summary(p) for p in pairs if p["derived"]["id"] == ident],
            "derived": [_pair_summary(p) for p in pairs if p["source"]["id"] == ident]}


def _summary(article: Article) -> dict:
    return {"id": article.id, "title": article.title, "outlet": article.outlet,
            "published": article.published, "url": article.url}


def _pair_summary(pair: dict) -> dict:
    return {"derived": pair["derived"]["id"], "source": pair["source"]["id"], "verdict": pair["verdict"],
            "derived_share": pair["derived_share"], "source_share": pair["source_share"],
            "original": pair["direction"]["original"], "confidence": pair["direction"]["confidence"],
            "credited": pair["credited"]}
