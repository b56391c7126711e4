"""`scan`: every derived pair in a store, then its reuse families and stories.

The stages, each a pure function over a batch, so a process pool here and Dask later run the same
code:

1. **candidates** — for the articles to scan, `CandidateIndex.pairs` (lexical LSH + sentence
   neighbours; each article's top candidates within the time window around it, as
   `CandidateIndex.query` would give them); the pairs are made unordered and unique, and pairs
   already stored are skipped.
2. **compare** — `compare_batch` aligns a batch of pairs from their stored segmentation and
   vectors (nothing is re-embedded) and keeps the ones called derived. Batches follow the
   candidate graph depth first (an article's pairs and its neighbours' together) and run in
   `scan.workers` processes, or on any `concurrent.futures` executor; workers read the store.
   A pair whose shared text is all in articles published before both (candidates of both, say
   the wire story two sites reprint) is left out unaligned (`attribute.explained`): the two are
   copies of those, and each is compared with them in its own pairs.
3. **families and stories** — `cluster.reuse_families` over all stored pairs and
   `cluster.cluster_stories` over all stored articles, written back to the store.

The store remembers which articles were scanned, under which settings (a hash of the index, align,
attribute and scan options and the fingerprint scheme) and with which text: a second `scan` after
`add` compares only the new articles' candidates, and a change of settings rescans everything.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .align import align, score
from .attribute import _when, attribute, direction, explained
from .cluster import Family, FamilyEdge, cluster_stories, family_rows, place_stories, reuse_families
from .errors import WiretraceError
from .models import NOT_DERIVED, Article, Comparison, Document, StoryTerms
from .options import ClusterOptions, Options, load_options
from .segment import segment

__all__ = ["ScanReport", "add_articles", "compare_batch", "compare_documents", "scan", "options_hash", "worker_started"]

Progress = Callable[[int, str], Callable[[int], None]]  # progress(total, what) -> tick(n)

_STATE = """CREATE TABLE IF NOT EXISTS scan_state (
    article TEXT PRIMARY KEY, text_hash TEXT NOT NULL, options TEXT NOT NULL, scanned TEXT NOT NULL
)"""


@dataclass
class ScanReport:
    articles: int = 0  # articles in the store within the window
    scanned: int = 0  # articles whose candidates were compared in this run
    skipped: int = 0  # articles already scanned under these settings
    compared: int = 0  # candidate pairs aligned in full
    explained: int = 0  # candidate pairs left out: all they share is in articles published before both
    pairs_found: int = 0  # pairs called derived and saved
    families: list[Family] = field(default_factory=list, repr=False)
    stories: int = 0
    placed: int = 0  # new articles placed into the stored stories (0: every article clustered again)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def family_ids(self) -> list[str]:
        return [f.id for f in self.families]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["families"] = [{"id": f.id, "size": f.size, "depth": f.depth} for f in self.families]
        return data


def _none(total: int, what: str) -> Callable[[int], None]:
    return lambda n: None


def options_hash(options: Options) -> str:
    """What a scan's pairs depend on; a change means every article is scanned again."""
    index = {k: v for k, v in asdict(options.index).items() if k != "threads"}  # how, not what
    settings = {"scheme": fp.SCHEME, "model": options.fingerprint.model, "index": index,
                "align": asdict(options.align), "attribute": asdict(options.attribute),
                "window_days": options.scan.window_days, "candidates": options.scan.candidates,
                "explained": [options.scan.explained, options.scan.explained_least, options.scan.explained_slack,
                              options.scan.explainers] if options.scan.explained else False}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


# --- the compare stage (pure) ----------------------------------------------------------------


def compare_documents(x: Document, y: Document, vx: np.ndarray, vy: np.ndarray, options: Options) -> Comparison:
    """`api.compare` on documents whose vectors (`api.embed`) are already known.

    The result does not depend on the order of `x` and `y`: when `x` turns out to be the original,
    the pair is aligned the other way round and its direction weighed on that alignment, as if
    the two had been given the other way (unless that flips the direction back). When one was
    published before the other, the later one is aligned as the derived side first: the usual
    outcome, which then needs one alignment instead of two."""
    wx, wy = _when(x.article.published), _when(y.article.published)
    if wx and wy and wx < wy:
        x, y, vx, vy = y, x, vy, vx
    scores = score(x, y, vx, vy)
    alignment = align(x, y, scores, options.align)
    dir_ = direction(x, y, alignment)
    derived, source = x, y
    if dir_.original == x.article.id:
        derived, source = y, x
        alignment = align(y, x, scores.transpose(), options.align)
        again = direction(y, x, alignment)
        dir_ = again if again.original == x.article.id else dir_
    return Comparison(derived, source, alignment, attribute(derived, source, alignment, dir_, options.attribute))


def compare_batch(job: tuple) -> tuple[int, list[Comparison], list[str], int]:
    """Compare each pair of a batch: job (pairs, documents and vectors by id, options[, earlier]).
    `earlier` maps a pair to the articles published before both that may hold all the text the
    two share (`attribute.explained`, when `scan.explained`); a pair they explain is left out.
    Returns (pairs compared, derived comparisons, errors, pairs left out as explained)."""
    pairs, docs, options = job[:3]
    earlier = job[3] if len(job) > 3 and options.scan.explained else {}
    found, errors, left_out = [], [], 0
    for a, b in pairs:
        try:
            (x, vx), (y, vy) = docs[a], docs[b]
            before = [docs[c][0] for c in earlier.get((a, b), ()) if c in docs]
            if before and explained(x, y, before, options.scan.explained_least, options.scan.explained_slack):
                left_out += 1
                continue
            c = compare_documents(x, y, vx, vy, options)
        except (WiretraceError, ValueError) as exc:  # one bad pair must not sink the batch
            errors.append(f"{a} ~ {b}: {exc}")
            continue
        if c.verdict.verdict != NOT_DERIVED:
            found.append(c)
    return len(pairs) - left_out, found, errors, left_out


# --- state kept in the store ------------------------------------------------------------------


class _State:
    """The `scan_state` table, on a connection of its own to the store's file."""

    def __init__(self, path: Path, timeout: float):
        self.db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        self.db.execute(_STATE)

    def pending(self, digest: str, since: str, until: str) -> tuple[list[str], int, int]:
        """(ids to scan, articles in the window, articles already scanned) in article order."""
        rows = self.db.execute(
            "SELECT a.id, a.published, s.text_hash = a.text_hash AND s.options = ? FROM articles a "
            "LEFT JOIN scan_state s ON s.article = a.id ORDER BY a.num", (digest,)).fetchall()
        inside = [(i, done) for i, published, done in rows if _within(published or "", since, until)]
        todo = [i for i, done in inside if not done]
        return todo, len(inside), len(inside) - len(todo)

    def mark(self, ids: list[str], digest: str) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.db.execute("BEGIN IMMEDIATE")
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.db.execute(
                f"INSERT OR REPLACE INTO scan_state SELECT id, text_hash, ?, ? FROM articles "
                f"WHERE id IN ({','.join('?' * len(chunk))})", (digest, now, *chunk))
        self.db.execute("COMMIT")

    def stored_pairs(self) -> Iterator[tuple[str, str]]:
        yield from self.db.execute("SELECT derived, source FROM pairs")

    def close(self) -> None:
        self.db.close()


def _within(published: str, since: str, until: str) -> bool:
    if not since and not until:
        return True
    day = published[:10]
    return bool(day) and not (since and day < since[:10]) and not (until and day > until[:10])


# --- scan ------------------------------------------------------------------------------------


def _candidate_pairs(store, index, todo: list[str], options: Options, since: str, until: str,
                     tick) -> list[tuple[str, str]]:
    from .index import Filters, as_ids

    window = options.scan.window_days or None
    filters = Filters(since=since or "", until=until or "", window=window)
    # Lexical pairs come from one pass over all buckets; sentence vectors are read and searched
    # a chunk of articles at a time (lexical-only stores have none to read). Pairs are kept as
    # numbers until the end: a million articles give millions of them.
    codes = [np.zeros(0, np.int64)]
    for start in range(0, len(todo), 1024):
        chunk = todo[start : start + 1024]
        vectors = [store.vectors(i) for i in chunk] if index.semantic else None
        codes.append(index.pairs(chunk, k=options.scan.candidates, filters=filters, vectors=vectors).codes())
        tick(len(chunk))
    known = _State(store.path, options.store.busy_timeout)
    try:
        stored = index.codes(known.stored_pairs())
    finally:
        known.close()
    new = np.setdiff1d(np.concatenate(codes), stored)  # unique, without the pairs already stored
    return sorted(as_ids(new, index.ids))  # distinct: candidates are live rows, one per id


def _jobs(store, pairs: list[tuple[str, str]], options: Options) -> Iterator[tuple]:
    """Work units of `scan.batch` pairs each: (store path, pairs, options, earlier articles by
    pair: `_earlier`). Workers read the articles themselves (SQLite readers run beside the
    writer), so the parent only writes."""
    neighbours = _neighbours(pairs)
    graphs, when = (neighbours,), {}
    if options.scan.explained and options.scan.explainers > 0:
        known = _State(store.path, options.store.busy_timeout)
        try:  # pairs stored by earlier scans link articles too
            stored = _neighbours(known.stored_pairs())
        finally:
            known.close()
        graphs = (neighbours, stored) if stored else graphs
        when = {i: _moment(published or "") for _, i, _, published in store.catalog()
                if i in neighbours or i in stored}
    for batch in _batches(pairs, options.scan.batch, neighbours):
        earlier = _earlier(batch, graphs, when, options.scan.explainers) if when else {}
        yield str(store.path), batch, options, earlier


def _neighbours(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Each article's partners in `pairs`."""
    out: dict[str, list[str]] = defaultdict(list)
    for a, b in pairs:
        out[a].append(b)
        out[b].append(a)
    return out


def _moment(published: str) -> tuple[datetime, bool] | None:
    """When an article was published, and whether the time of day is known (not a date alone)."""
    when = _when(published)
    return None if when is None else (when, len(published.strip()) > 10)


def _before(x: tuple[datetime, bool], y: tuple[datetime, bool]) -> bool:
    """Was `x` surely published before `y`? A date alone is a whole day: only an earlier day is."""
    return x[0] < y[0] if x[1] and y[1] else x[0].date() < y[0].date()


def _earlier(pairs: list[tuple[str, str]], graphs: tuple[dict[str, list[str]], ...],
             when: dict[str, tuple[datetime, bool] | None], most: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """For each pair, the articles linked to both (in any of `graphs`, `_neighbours` of the
    candidates and of the stored pairs) and surely published before both (`_moment`s, by
    `_before`), earliest first and at most `most`: what may hold all the text the two share.
    Pairs with an undated article, or with none such, are left out: they are aligned."""
    out = {}
    for a, b in pairs:
        wa, wb = when.get(a), when.get(b)
        if wa is None or wb is None:
            continue
        common = {c for g in graphs for c in g.get(a, ())}.intersection([c for g in graphs for c in g.get(b, ())])
        before = sorted((w[0], c) for c in common
                        if (w := when.get(c)) is not None and _before(w, wa) and _before(w, wb))
        if before:
            out[(a, b)] = tuple(c for _, c in before[:most])
    return out


def _batches(pairs: list[tuple[str, str]], size: int,
             neighbours: dict[str, list[str]] | None = None) -> Iterator[list[tuple[str, str]]]:
    """`pairs` cut into batches of `size`, in depth-first order of the candidate graph, each pair
    placed where the later of its two articles is reached: an article's pairs come together,
    with neighbours reached just before it, so each article is read and prepared about once per
    batch and rarely in more than two batches. `neighbours`: `_neighbours(pairs)`, when known."""
    neighbours = neighbours if neighbours is not None else _neighbours(pairs)
    position: dict[str, int] = {}
    for start in sorted(neighbours):
        stack = [start]
        while stack:
            article = stack.pop()
            if article not in position:
                position[article] = len(position)
                stack.extend(sorted(neighbours[article], reverse=True))
    ordered = sorted(pairs, key=lambda p: (max(position[p[0]], position[p[1]]), min(position[p[0]], position[p[1]])))
    for start in range(0, len(ordered), max(size, 1)):
        yield ordered[start : start + size]


def _compare_in(store, pairs: list[tuple[str, str]], options: Options,
                earlier: dict[tuple[str, str], tuple[str, ...]] | None = None) -> tuple[int, list[tuple], list[str], int]:
    """`compare_batch` on pairs of `store`'s articles, read from it; the derived ones as `pairs`
    rows (`store.pair_row`, without the sentences' texts: the articles are stored) for the
    writer. An article of a pair that cannot be read (removed since the candidates were found,
    or damaged) is reported and its pairs skipped; an earlier article (`_earlier`) that cannot
    be read explains nothing. Returns (pairs compared or skipped, rows, errors, pairs left out
    as explained)."""
    from .store import pair_row

    earlier = earlier or {}  # empty unless `scan.explained` (`_jobs`)
    docs, missing = {}, []
    for i in sorted({i for pair in pairs for i in pair}):
        try:
            docs[i] = (store.get_document(i), store.vectors(i))
        except WiretraceError as exc:
            missing.append(f"{i}: {exc}")
    for i in sorted({c for cs in earlier.values() for c in cs} - docs.keys()):
        try:
            docs[i] = (store.get_document(i), None)
        except WiretraceError:
            pass
    kept = [p for p in pairs if p[0] in docs and p[1] in docs]
    compared, found, errors, left_out = compare_batch((kept, docs, options, earlier))
    return compared + len(pairs) - len(kept), [pair_row(c, texts=False) for c in found], missing + errors, left_out


_READERS: dict[tuple[str, int], object] = {}  # read-only stores opened by this worker, by path and thread


def compare_stored(job: tuple) -> tuple[int, list[tuple], list[str], int]:
    """A worker's unit of `scan`, (path, pairs, options[, earlier]): `_compare_in` the store at
    `path`, opened read-only once per worker thread."""
    from .store import Store

    path, pairs, options = job[:3]
    earlier = job[3] if len(job) > 3 else None
    key = (path, threading.get_ident())
    store = _READERS.get(key)
    if store is None:
        store = _READERS[key] = Store(path, readonly=True, timeout=options.store.busy_timeout)
    return _compare_in(store, pairs, options, earlier)


def _run(store, jobs: Iterator[tuple], workers: int, on_result: Callable[[tuple], None],
         executor: Executor | None = None) -> None:
    """`compare_stored` over `jobs`, in `workers` processes with a bounded number in flight (in
    this process, on `store` itself, when `workers` is 1), or on `executor` when given (any
    `concurrent.futures.Executor`: a Dask cluster's is `Client.get_executor()`)."""
    if executor is not None:
        _submit_all(executor, jobs, 2 * max(workers, 1), on_result)
        return
    if workers <= 1:
        for _, pairs, options, earlier in jobs:
            on_result(_compare_in(store, pairs, options, earlier))
        return
    # spawn, not fork: the parent holds threads (encoder, usearch) that fork would copy mid-flight.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=worker_started) as pool:
        _submit_all(pool, jobs, 2 * workers, on_result)


def worker_started() -> None:
    """The setup of a process that runs only `compare_stored` (the local workers'): the cyclic
    garbage collector run far less often. Comparing pairs makes no reference cycles (none were
    left after 12 800 pairs with the collector off): what a pair allocates is freed by
    reference counting, and each collection only walks the caches, hundreds of thousands of
    objects. In a 100 k scan the collections took 18 % of the workers' CPU at Python's defaults,
    6 % with only the oldest generation a hundred times rarer, and 1 % with this: a young
    collection every 50 000 allocations instead of 700, the older generations a hundred times
    rarer."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 50_000), 100 * middle, 100 * old)


def _submit_all(executor: Executor, jobs: Iterator[tuple], in_flight: int, on_result: Callable[[tuple], None]) -> None:
    running: set = set()
    for job in jobs:
        running.add(executor.submit(compare_stored, job))
        if len(running) >= in_flight:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(future.result())
    for future in running:
        on_result(future.result())


def _story_vectors(store) -> Callable[[StoryTerms], np.ndarray | None]:
    """Each stored article's whole-sentence vectors (they are stored with its clauses')."""

    def lookup(terms: StoryTerms) -> np.ndarray | None:
        try:
            return store.body_vectors(terms.article)
        except WiretraceError:
            return None

    return lookup


def scan(target, options: Options | None = None, progress: Progress | None = None, *, since: str = "",
         until: str = "", workers: int | None = None, executor: Executor | None = None) -> ScanReport:
    """Find every derived pair among the articles of a store (a `Store`), or of `Article`s,
    documents or paths (added to a temporary store first), then group them into reuse families and
    stories. `since`/`until` (ISO dates) bound the articles scanned and their candidates.

    Pairs are aligned in `workers` local processes, or on `executor` (say a Dask cluster's
    `Client.get_executor()`, whose workers must see the store's file at the same path;
    `client.run(worker_started)` gives them the local workers' setup)."""
    from .store import Store

    options = options or load_options()
    progress = progress or _none
    if isinstance(target, Store):
        return _scan_store(target, options, progress, since, until, workers, executor)
    with tempfile.TemporaryDirectory(prefix="wiretrace-scan-") as tmp:
        db = Path(tmp) / "scan.db"
        options = replace(options, store=replace(options.store, path=str(db)))
        add_articles(target, options, progress)
        with Store(db) as store:
            return _scan_store(store, options, progress, since, until, workers, executor)


def _scan_store(store, options: Options, progress: Progress, since: str, until: str,
                workers: int | None, executor: Executor | None = None) -> ScanReport:
    from .index import CandidateIndex

    started = time.perf_counter()
    report = ScanReport()
    digest = options_hash(options)
    state = _State(store.path, options.store.busy_timeout)
    try:
        todo, report.articles, report.skipped = state.pending(digest, since, until)
        report.scanned = len(todo)
        stories = None
        family_settings, story_settings = _settings(options, _FAMILY_SETTINGS), _settings(options, _STORY_SETTINGS)
        if todo:
            # Stories need the articles, not the pairs: they are clustered beside the alignment
            # (whose workers leave this process idle) and saved once it is done. Not beside the
            # candidate search: it keeps this process busy, and its transient peak (4.6 GB at
            # 1 M articles) would add to the stories' features.
            report.placed = _to_place(store, options) if store.meta.get("story_settings") == story_settings else 0
            t0 = time.perf_counter()
            index = CandidateIndex.open(store, options)
            pairs = _candidate_pairs(store, index, todo, options, since, until,
                                     progress(len(todo), "candidates"))
            CandidateIndex.release(store)  # its signatures and buckets are not needed past here
            del index
            report.timings["candidates"] = time.perf_counter() - t0
            stories = _Background(_cluster_stored, store.path, options, executor is None,  # beside local workers?
                                  bool(report.placed))
            t0 = time.perf_counter()
            tick = progress(len(pairs), "pairs aligned")

            def on_result(result: tuple) -> None:
                compared, rows, errors, left_out = result
                report.compared += compared
                report.explained += left_out
                report.pairs_found += store.save_pair_rows(rows) if rows else 0
                report.errors.extend(errors)
                tick(compared + left_out)

            workers = workers or options.scan.workers or os.cpu_count() or 1
            jobs = max(1, len(pairs) // max(options.scan.batch, 1))
            _run(store, _jobs(store, pairs, options), min(workers, jobs), on_result, executor)
            state.mark(todo, digest)
            report.timings["compare"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        same = store.meta.get("family_settings") == family_settings
        among: set[str] | None = None  # the articles whose families are built again (None: all of them)
        if same and not todo:
            among = set()  # nothing new was compared: the families saved last time still hold
        elif same and report.scanned < report.articles:
            # Families are built per connected group of edges: only the groups of the articles
            # scanned now change (those of their pairs, stored now or by an interrupted scan).
            # When they hold most of the store (reprints and composites can chain most families
            # into one group), building every family is quicker.
            among = store.linked(todo, options.cluster.min_share, limit=report.articles // 2)
        if among is None:  # first scan, every article scanned again, new settings, or most of the store
            report.families = reuse_families(store.iter_pair_summaries(), options)
            store.save_families(family_rows(report.families), replace_all=True, settings=family_settings)
        else:
            if among:
                store.replace_families(among, family_rows(reuse_families(store.iter_pair_summaries(among), options)))
            report.families = _stored_families(store)
        report.timings["families"] = time.perf_counter() - t0
        if (stories is not None or store.meta.get("story_settings") != story_settings
                or not store.story_of(next(iter(store.ids()), ""))):  # new work, new settings, or never clustered
            found, report.timings["stories"] = (stories.result() if stories is not None
                                                else _cluster_stored(store.path, options))
            store.save_stories(found, replace_all=True, settings=story_settings)
            report.stories = len(set(found.values()))
        else:
            report.stories = _story_count(store)
    finally:
        state.close()
    report.seconds = time.perf_counter() - started
    return report


_FAMILY_SETTINGS = ("min_share", "parent_margin", "max_parents", "min_lineage", "max_depth")
_STORY_SETTINGS = tuple(f.name for f in fields(ClusterOptions) if f.name not in _FAMILY_SETTINGS + ("place_share",))


def _settings(options: Options, names: tuple[str, ...]) -> str:
    """What stored families or stories depend on, beyond the pairs and articles."""
    return json.dumps({name: getattr(options.cluster, name) for name in names}, sort_keys=True)


def _to_place(store, options: Options) -> int:
    """How many new articles the scan places into the stored stories: those without a story,
    when there are stored stories and the new ones are at most `cluster.place_share` of the
    store; else 0 (every article is clustered again)."""
    new, total = store.unclustered(), store.count()
    return new if 0 < new < total and new <= options.cluster.place_share * total else 0


def _cluster_stored(path: Path, options: Options, beside: bool = False,
                    place: bool = False) -> tuple[dict[str, str], float]:
    """`cluster_stories` over every article of the store at `path` (read through a connection of
    its own), and the seconds it took; `place`: `place_stories`, keeping the stored stories.
    `beside`: while the alignment keeps this machine's cores busy, with one BLAS thread (more
    would only wait for cores, spinning)."""
    from threadpoolctl import threadpool_limits

    from .store import Store

    t0 = time.perf_counter()
    with Store(path, readonly=True, timeout=options.store.busy_timeout) as store, \
            threadpool_limits(1 if beside else None, user_api="blas"):
        found = (place_stories(store.iter_story_terms(), _story_vectors(store), store.story_assignments(), options)
                 if place else cluster_stories(store.iter_story_terms(), _story_vectors(store), options))
    return found, time.perf_counter() - t0


class _Background:
    """`fn(*args)` in a daemon thread, so that an interrupted scan does not wait for it;
    `result()` waits for it and returns its value or raises its error."""

    def __init__(self, fn: Callable, *args):
        self._value, self._error = None, None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable, args: tuple) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _stored_families(store) -> list[Family]:
    """The families the last scan saved, largest first (their edges inside each family; links
    to other families are not stored there)."""
    groups: dict[str, list[FamilyEdge]] = defaultdict(list)
    for family, parent, child, d in store.iter_families():
        groups[family].append(FamilyEdge(parent, child, float(d.get("derived_share") or 0.0), str(d.get("verdict", "")),
                                         float(d.get("confidence") or 0.0), bool(d.get("primary", True)),
                                         bool(d.get("credited", False))))
    families = []
    for root, edges in groups.items():
        members = tuple(sorted({e.parent for e in edges} | {e.child for e in edges}))
        edges = tuple(sorted(edges, key=lambda e: (e.child, e.parent)))
        families.append(Family(root, root, members, edges, (), _depth(root, edges)))
    return sorted(families, key=lambda f: (-f.size, f.id))


def _depth(root: str, edges: Iterable[FamilyEdge]) -> int:
    children: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        if e.primary:
            children[e.parent].append(e.child)
    depth, level = 0, [root]
    while True:
        level = [c for node in level for c in children.get(node, ())]
        if not level:
            return depth
        depth += 1


def _story_count(store) -> int:
    return len({store.story_of(i) for i in store.ids()} - {None})


# --- adding articles (for scans of files and for the evaluation) --------------------------------


def add_articles(items: Iterable[Article | Document | str | os.PathLike], options: Options,
                 progress: Progress | None = None, batch: int = 64) -> tuple[int, int]:
    """Segment, embed and store articles (or the articles in paths) in `options.store.path`.
    Returns ``(added, unchanged)``."""
    from .index import signatures
    from .ingest import iter_articles
    from .store import Store

    progress = progress or _none
    items = list(items)
    paths = [i for i in items if isinstance(i, (str, os.PathLike))]
    articles = [i for i in items if not isinstance(i, (str, os.PathLike))]
    if paths:
        articles.extend(a for a in iter_articles(paths, options.ingest) if isinstance(a, Article))
    from .api import _embed_batch  # the batched, cached embedding `add` uses (api imports this module)

    encoder, cache = fp.get_encoder(options.fingerprint), fp.VectorCache()  # syndicated copies repeat sentences
    tick = progress(len(articles), "articles added")
    added = unchanged = 0
    with Store(options.store.path) as store:
        store.check_fingerprint(encoder.name, encoder.dim, options.fingerprint.num_perm)
        for start in range(0, len(articles), batch):
            chunk = articles[start : start + batch]
            docs = [a if isinstance(a, Document) else segment(a, options.segment) for a in chunk]
            vectors = _embed_batch(docs, options, cache)
            counts = store.add_documents(docs, vectors, list(signatures(docs, options)))
            added, unchanged = added + counts[0], unchanged + counts[1]
            tick(len(chunk))
    return added, unchanged
