"""The store: one embedded SQLite file holding articles, their sentences and fingerprints, the pairs
found between them, and the stories and reuse families they were grouped into.

One writer and many readers at a time (WAL journal): the web app reads while `add` writes, and a
reader sees each batch of `add` entirely or not at all, because every batch is one transaction.

Adding an article whose id is already stored:

* same text (by SHA-256 of `Article.text`): nothing happens; it counts as *unchanged*;
* different text: the old article, its sentences, fingerprints and the pairs that name it are
  replaced by the new one; it counts as *added* (and in `BatchCounts.replaced`).

The file records its schema version and the fingerprint scheme (`fingerprint.SCHEME`, the
embedding model and its dimension, the MinHash size). A store written under another version is
refused with `StoreError` rather than mixed with new fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import orjson
import zstandard

from . import fingerprint as fp
from .errors import NotFoundError, StoreError
from .models import Article, Comparison, Document, Pair, Sentence, StoryTerms
from .options import Options, StoreOptions
from .segment import normalize

# Sentences read back get their matching text again; reprints repeat sentences, so it is cached.
_normalized = lru_cache(maxsize=1 << 16)(normalize)

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    num INTEGER PRIMARY KEY,          -- stable integer key: index entries point here
    id TEXT NOT NULL UNIQUE,
    url TEXT, outlet TEXT, published TEXT, title TEXT, language TEXT, byline TEXT,
    credits TEXT,                     -- JSON list
    dateline TEXT, path TEXT,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    added TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS sentences (
    article INTEGER NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    role TEXT NOT NULL, paragraph INTEGER NOT NULL, rule TEXT,
    PRIMARY KEY (article, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vectors (     -- `api.embed` of the article: float32 rows, one blob per article
    article INTEGER PRIMARY KEY, rows INTEGER NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL,
    starts BLOB NOT NULL                -- int32: row of each body sentence's own embedding, then `rows`
);
CREATE TABLE IF NOT EXISTS signatures (  -- MinHash of body word shingles, uint32 per permutation
    article INTEGER PRIMARY KEY, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS story_terms (  -- `fingerprint.story_counts` of the article, Zstandard JSON
    article INTEGER PRIMARY KEY, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pairs (
    derived TEXT NOT NULL, source TEXT NOT NULL, verdict TEXT NOT NULL,
    derived_share REAL NOT NULL, source_share REAL NOT NULL,
    original TEXT NOT NULL, confidence REAL NOT NULL, credited INTEGER NOT NULL,
    result TEXT NOT NULL,             -- Comparison.to_dict() as JSON, Zstandard-compressed (a BLOB)
    created TEXT NOT NULL,
    PRIMARY KEY (derived, source)
);
CREATE INDEX IF NOT EXISTS pairs_source ON pairs(source);
CREATE TABLE IF NOT EXISTS stories (article TEXT PRIMARY KEY, story TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stories_story ON stories(story);
CREATE TABLE IF NOT EXISTS families (   -- reuse families: directed edges parent -> child
    family TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (parent, child)
);
CREATE INDEX IF NOT EXISTS families_family ON families(family);
CREATE INDEX IF NOT EXISTS families_child ON families(child);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, text, content='articles', content_rowid='num'
);
CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.num, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.num, old.title, old.text);
END;
"""

_ARTICLE_COLUMNS = "id, url, outlet, published, title, language, byline, credits, dateline, path, text"
_FTS_WORD = re.compile(r"\w+", re.UNICODE)


class BatchCounts(tuple):
    """``(added, unchanged)`` as returned by `Store.add_documents`, plus `.replaced` (how many of
    the added replaced an article of the same id with a different text)."""

    def __new__(cls, added: int, unchanged: int, replaced: int = 0):
        counts = super().__new__(cls, (added, unchanged))
        counts.replaced = replaced
        return counts


def default_path(options: Options | StoreOptions | None = None, db: str | os.PathLike | None = None) -> Path:
    """`--db` if given, else $WIRETRACE_DB, else the `store.path` setting (./wiretrace.db)."""
    if db:
        return Path(db)
    if os.environ.get("WIRETRACE_DB"):
        return Path(os.environ["WIRETRACE_DB"])
    store = options.store if isinstance(options, Options) else options or StoreOptions()
    return Path(store.path)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fts_query(query: str) -> str:
    """User input as an FTS5 query that cannot be a syntax error: every word a quoted term, all
    required (``NOT "x" OR (`` becomes ``"NOT" "x" "OR"``)."""
    return " ".join(f'"{w}"' for w in _FTS_WORD.findall(query))


def unit_starts(doc: Document) -> np.ndarray:
    """Row of each body sentence's own embedding in `api.embed(doc)`, then the row count: each
    sentence is followed by its clauses (`fingerprint.units`)."""
    sizes = [len(fp.units(s.norm or s.text)) for s in doc.body]
    return np.cumsum([0, *sizes]).astype(np.int32)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _article(row: sqlite3.Row | tuple) -> Article:
    id_, url, outlet, published, title, language, byline, credits, dateline, path, text = row
    return Article(
        id=id_, text=text, title=title or "", url=url or "", outlet=outlet or "", published=published or "",
        language=language or "", byline=byline or "", credits=tuple(json.loads(credits or "[]")),
        dateline=dateline or "", path=path or "",
    )


def _with_sentences(article: Article, rows: Iterable[tuple]) -> Document:
    """The document of a stored article from its `sentences` rows (idx, start, end, role,
    paragraph, rule), in order."""
    text = article.text
    return Document(article, tuple(
        Sentence(article.id, idx, start, end, text[start:end], role, paragraph, _normalized(text[start:end]), rule or "")
        for idx, start, end, role, paragraph, rule in rows))


def pair_row(c: Comparison, texts: bool = True) -> tuple:
    """The `pairs` table row of a comparison: its ids, verdict figures and contract JSON
    (Zstandard at level 1: a quarter of the size, for ~13 microseconds). `texts=False` for
    articles stored with the texts compared (a scan's): the sentences' texts are then left out
    of the JSON (they are the articles' own text at the sentences' offsets, and about two
    fifths of it), and reading puts them back (`_with_texts`)."""
    v = c.verdict
    data = c.to_dict()
    if not texts:
        for sentence in data["sentences"]:
            del sentence["text"]
    return (c.derived.article.id, c.source.article.id, v.verdict, v.derived_share, v.source_share,
            v.direction.original, v.direction.confidence, int(v.credited), _codec().compress(orjson.dumps(data)),
            _now())


_CODECS = threading.local()


def _codec() -> zstandard.ZstdCompressor:
    """This thread's compressor (a Zstandard context serves one thread at a time)."""
    if not hasattr(_CODECS, "compressor"):
        _CODECS.compressor = zstandard.ZstdCompressor(level=1)
    return _CODECS.compressor


def _decoded(result: str | bytes) -> bytes | str:
    """A stored result as JSON: decompressed, or as it is when stored as text."""
    if isinstance(result, str):
        return result
    if not hasattr(_CODECS, "decompressor"):
        _CODECS.decompressor = zstandard.ZstdDecompressor()
    return _CODECS.decompressor.decompress(result)


class _Texts:
    """Article texts by id for one read of stored pairs (the most recent few thousand kept)."""

    def __init__(self, store: "Store", keep: int = 4096):
        self._store, self._keep, self._texts = store, keep, {}

    def __getitem__(self, article_id: str) -> str:
        text = self._texts.get(article_id)
        if text is None:
            if len(self._texts) >= self._keep:
                del self._texts[next(iter(self._texts))]
            text = self._texts[article_id] = self._store.article_text(article_id)
        return text


def _with_texts(result: str | bytes, texts: _Texts) -> dict:
    """A stored pair's contract JSON with each sentence's text put back in its place (after its
    offsets). Results stored with their texts are returned as they are; results stored as
    plain JSON text (by an earlier version) are read as well."""
    data = orjson.loads(_decoded(result))
    data["sentences"] = [s if "text" in s else _sentence_with_text(s, texts[s["article"]])
                         for s in data["sentences"]]
    return data


def _sentence_with_text(sentence: dict, text: str) -> dict:
    out = {}
    for key, value in sentence.items():
        out[key] = value
        if key == "end":
            out["text"] = text[sentence["start"] : value]
    return out


class Store:
    """An embedded SQLite store. Use as a context manager; `readonly=True` for readers."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False, timeout: float = 30.0):
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise StoreError("no store here; create one with `wiretrace add PATH... --db FILE`", path=self.path)
        self._lock = threading.RLock()
        try:
            self._db = self._connect(timeout)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "meta" not in tables:
                raise StoreError("an SQLite file, but not a wiretrace store; pass another --db file", path=self.path)
            if not readonly:
                # executescript commits whatever is pending, so the script carries its own transaction.
                self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            self._meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            # A reader of a store from a version before story terms were kept computes them.
            self._has_story_terms = not readonly or "story_terms" in tables
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"not a wiretrace store ({exc}); pass another --db file", path=self.path) from None
        self._check_versions()

    def _connect(self, timeout: float) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?mode={'ro' if self.readonly else 'rwc'}"
        # Autocommit mode: transactions are opened explicitly, one per batch (`_write`).
        db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not self.readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe with WAL
        return db

    def _check_versions(self) -> None:
        if not self._meta and not self.readonly:
            with self._write():
                self._set_meta({"schema_version": SCHEMA_VERSION, "scheme": fp.SCHEME, "created": _now()})
            return
        found = (self._meta.get("schema_version"), self._meta.get("scheme"))
        if found != (SCHEMA_VERSION, fp.SCHEME):
            raise StoreError(
                f"store has schema {found[0]} and fingerprint scheme {found[1]}; this wiretrace needs "
                f"schema {SCHEMA_VERSION} and scheme {fp.SCHEME}. Rebuild it: `wiretrace add PATH... "
                "--db NEW.db` into a new file",
                path=self.path,
            )

    def check_fingerprint(self, model: str, dim: int, num_perm: int) -> None:
        """Record the embedding model and MinHash size on first use; refuse others later."""
        wanted = {"model": model, "dim": str(dim), "num_perm": str(num_perm)}
        found = {k: self._meta[k] for k in wanted if k in self._meta}
        if not found and not self.readonly:
            with self._write():
                self._set_meta(wanted)
            return
        if found and found != wanted:
            raise StoreError(
                f"store was built with {found}, these settings give {wanted}; use the same "
                "fingerprint settings or rebuild with `wiretrace add PATH... --db NEW.db`",
                path=self.path,
            )

    def _set_meta(self, values: dict[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        self._meta.update(values)

    @property
    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self):
        """One transaction: all of it is stored, or (on any exception) none of it."""
        if self.readonly:
            raise StoreError("store is open read-only", path=self.path)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"cannot write ({exc}); another process holds the store", path=self.path) from None
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- articles --------------------------------------------------------------------------------

    def add_documents(
        self, docs: Iterable[Document], vectors: Iterable[np.ndarray], signatures: Iterable[np.ndarray]
    ) -> BatchCounts:
        """Store a batch in one transaction. `vectors[i]` holds one row per body sentence of
        `docs[i]`; `signatures[i]` is its MinHash. Returns ``(added, unchanged)``."""
        added = unchanged = replaced = 0
        with self._write() as db:
            for doc, vecs, sig in zip(docs, vectors, signatures, strict=True):
                digest = text_hash(doc.article.text)
                old = db.execute("SELECT num, text_hash FROM articles WHERE id = ?", (doc.article.id,)).fetchone()
                if old and old[1] == digest:
                    unchanged += 1
                    continue
                if old:
                    self._delete(db, old[0], doc.article.id)
                    replaced += 1
                self._insert(db, doc, digest, vecs, sig)
                added += 1
        return BatchCounts(added, unchanged, replaced)

    def _insert(self, db: sqlite3.Connection, doc: Document, digest: str, vecs: np.ndarray, sig: np.ndarray) -> None:
        a = doc.article
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        starts = unit_starts(doc)
        if vecs.ndim != 2 or len(vecs) != starts[-1]:
            raise StoreError(
                f"{len(doc.body)} body sentences with {starts[-1]} units to embed, but vectors of shape "
                f"{vecs.shape}; store what `api.embed(doc)` returns", record=a.id,
            )
        num = db.execute(
            f"INSERT INTO articles ({_ARTICLE_COLUMNS}, text_hash, added) VALUES ({', '.join('?' * 13)})",
            (a.id, a.url, a.outlet, a.published, a.title, a.language, a.byline, json.dumps(list(a.credits)),
             a.dateline, a.path, a.text, digest, _now()),
        ).lastrowid
        db.executemany(
            'INSERT INTO sentences (article, idx, start, "end", role, paragraph, rule) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [(num, s.index, s.start, s.end, s.role, s.paragraph, s.rule or None) for s in doc.sentences],
        )
        db.execute("INSERT INTO vectors VALUES (?, ?, ?, ?, ?)",
                   (num, vecs.shape[0], vecs.shape[1], vecs.tobytes(), starts.tobytes()))
        db.execute("INSERT INTO signatures VALUES (?, ?)", (num, np.asarray(sig, dtype=np.uint32).tobytes()))
        terms = fp.story_counts(doc)
        db.execute("INSERT INTO story_terms VALUES (?, ?)",
                   (num, _codec().compress(orjson.dumps([terms.title, terms.stems, terms.names]))))

    def _delete(self, db: sqlite3.Connection, num: int, article_id: str) -> None:
        for table in ("sentences", "vectors", "signatures", "story_terms"):
            db.execute(f"DELETE FROM {table} WHERE article = ?", (num,))
        db.execute("DELETE FROM articles WHERE num = ?", (num,))
        # Pairs describe the old text: stale once it changes.
        db.execute("DELETE FROM pairs WHERE derived = ? OR source = ?", (article_id, article_id))

    def _num(self, article_id: str) -> int:
        row = self._db.execute("SELECT num FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise NotFoundError("no such article in the store; `wiretrace add` it first", path=self.path,
                                record=article_id)
        return row[0]

    def stored_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        """``{id: text hash}`` of those of `ids` that are stored."""
        ids, found = list(ids), {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            found.update(self._db.execute(
                f"SELECT id, text_hash FROM articles WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall())
        return found

    def has(self, article_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM articles ORDER BY num")]

    def get_article(self, article_id: str) -> Article:
        row = self._db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            self._num(article_id)  # raises NotFoundError
        return _article(row)

    def get_document(self, article_id: str) -> Document:
        """The article with its sentences as `segment` made them when it was added."""
        row = self._db.execute(f"SELECT num, {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            self._num(article_id)
        return self._document(row[0], _article(row[1:]))

    def _document(self, num: int, article: Article) -> Document:
        rows = self._db.execute(
            'SELECT idx, start, "end", role, paragraph, rule FROM sentences WHERE article = ? ORDER BY idx', (num,)
        ).fetchall()
        return _with_sentences(article, rows)

    def iter_documents(self, batch: int = 256) -> Iterator[Document]:
        """Every stored document, in the order they were added, fetched `batch` at a time (the
        articles, then all their sentences in one query)."""
        last = 0
        while True:
            rows = self._db.execute(
                f"SELECT num, {_ARTICLE_COLUMNS} FROM articles WHERE num > ? ORDER BY num LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            sentences: dict[int, list[tuple]] = defaultdict(list)
            for num, *sentence in self._db.execute(
                    'SELECT article, idx, start, "end", role, paragraph, rule FROM sentences '
                    "WHERE article > ? AND article <= ? ORDER BY article, idx", (last, rows[-1][0])):
                sentences[num].append(sentence)
            for row in rows:
                yield _with_sentences(_article(row[1:]), sentences.get(row[0], ()))
            last = rows[-1][0]

    def iter_story_terms(self, batch: int = 1024) -> Iterator[StoryTerms]:
        """Every stored article's `StoryTerms`, in the order they were added: as `add` kept them,
        or from the document for articles stored by a version that did not keep them."""
        if not self._has_story_terms:
            for doc in self.iter_documents():
                yield fp.story_counts(doc)
            return
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT a.num, a.id, a.published, t.data FROM articles a LEFT JOIN story_terms t ON t.article = a.num "
                "WHERE a.num > ? ORDER BY a.num LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for num, article_id, published, data in rows:
                if data is None:
                    yield fp.story_counts(self._document(num, self.get_article(article_id)))
                else:
                    title, stems, names = orjson.loads(_decoded(data))
                    yield StoryTerms(article_id, published or "", tuple(title), stems, names)
            last = rows[-1][0]

    def body_vectors(self, article_id: str) -> np.ndarray:
        """One embedding per body sentence of a stored article (its own, not its clauses')."""
        row = self._db.execute(
            "SELECT v.rows, v.dim, v.data, v.starts FROM vectors v JOIN articles a ON a.num = v.article WHERE a.id = ?",
            (article_id,)).fetchone()
        if row is None:
            self._num(article_id)
            raise StoreError("article has no vectors; rebuild the store", path=self.path, record=article_id)
        n, dim, data, starts = row
        return np.frombuffer(data, dtype=np.float32).reshape(n, dim)[np.frombuffer(starts, dtype=np.int32)[:-1]]

    def vectors(self, article_id: str) -> np.ndarray:
        """The embeddings of a stored article, as `api.embed` gave them (units of body sentences)."""
        row = self._db.execute(
            "SELECT v.rows, v.dim, v.data FROM vectors v JOIN articles a ON a.num = v.article WHERE a.id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            self._num(article_id)
            raise StoreError("article has no vectors; rebuild the store", path=self.path, record=article_id)
        return np.frombuffer(row[2], dtype=np.float32).reshape(row[0], row[1])

    def signature(self, article_id: str) -> np.ndarray:
        row = self._db.execute(
            "SELECT s.data FROM signatures s JOIN articles a ON a.num = s.article WHERE a.id = ?", (article_id,)
        ).fetchone()
        if row is None:
            self._num(article_id)
            raise StoreError("article has no signature; rebuild the store", path=self.path, record=article_id)
        return np.frombuffer(row[0], dtype=np.uint32)

    def catalog(self) -> list[tuple[int, str, str, str]]:
        """``(num, id, outlet, published)`` of every article: what the candidate index filters on."""
        return self._db.execute("SELECT num, id, outlet, published FROM articles ORDER BY num").fetchall()

    def state(self) -> tuple[int, int]:
        """``(largest article number, article count)``: changes whenever articles are added or replaced."""
        return tuple(self._db.execute("SELECT coalesce(max(num), 0), count(*) FROM articles").fetchone())

    def signatures(self, nums: Iterable[int] | None = None) -> dict[int, np.ndarray]:
        """``{article number: MinHash signature}`` for `nums` (every article when None)."""
        rows = self._by_nums("SELECT article, data FROM signatures", nums)
        return {num: np.frombuffer(data, dtype=np.uint32) for num, data in rows}

    def sentence_vectors(self, nums: Iterable[int]) -> dict[int, np.ndarray]:
        """``{article number: one embedding per body sentence (its own, not its clauses')}``."""
        rows = self._by_nums("SELECT article, rows, dim, data, starts FROM vectors", nums)
        return {
            num: np.frombuffer(data, dtype=np.float32).reshape(n, dim)[np.frombuffer(starts, dtype=np.int32)[:-1]]
            for num, n, dim, data, starts in rows
        }

    def _by_nums(self, select: str, nums: Iterable[int] | None) -> list[tuple]:
        if nums is None:
            return self._db.execute(select).fetchall()
        nums, rows = list(nums), []
        for i in range(0, len(nums), 500):  # well under SQLite's limit on bound parameters
            chunk = nums[i : i + 500]
            rows += self._db.execute(f"{select} WHERE article IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    def search(self, query: str = "", outlet: str | None = None, since: str | None = None,
               until: str | None = None, limit: int = 50) -> list[Article]:
        """Articles matching every word of `query` in title or text (best first), or the latest
        ones when `query` is empty; optionally of one outlet and published within [since, until]."""
        columns = ", ".join("a." + c for c in _ARTICLE_COLUMNS.split(", "))
        sql, where, args = f"SELECT {columns} FROM articles a", [], []
        match = fts_query(query)
        if match:
            sql += " JOIN (SELECT rowid, rank FROM articles_fts WHERE articles_fts MATCH ?) f ON f.rowid = a.num"
            args.append(match)
        for clause, value in (("a.outlet = ?", outlet), ("a.published >= ?", since),
                              # "2018-07-16" means the whole day: compare with the largest string after it
                              ("a.published <= ?", until and until + "\uffff")):
            if value:
                where.append(clause)
                args.append(value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY f.rank LIMIT ?" if match else " ORDER BY a.published DESC, a.num DESC LIMIT ?"
        args.append(limit)
        return [_article(r) for r in self._db.execute(sql, args)]

    def outlets(self) -> list[tuple[str, int]]:
        """``(outlet, number of articles)``, most articles first."""
        return self._db.execute(
            "SELECT outlet, count(*) FROM articles WHERE outlet != '' GROUP BY outlet ORDER BY count(*) DESC, outlet"
        ).fetchall()

    # --- pairs -----------------------------------------------------------------------------------

    def save_pairs(self, comparisons: Iterable[Comparison]) -> int:
        """Store comparisons (replacing any earlier result for the same derived/source ids)."""
        def stored(doc) -> bool:
            row = self._db.execute("SELECT text FROM articles WHERE id = ?", (doc.article.id,)).fetchone()
            return row is not None and row[0] == doc.article.text

        return self.save_pair_rows([pair_row(c, texts=not (stored(c.derived) and stored(c.source)))
                                    for c in comparisons])

    def save_pair_rows(self, rows: list[tuple]) -> int:
        """Store rows made by `pair_row` (a scan makes them in its worker processes)."""
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def pairs_for(self, article_id: str, role: str | None = None) -> list[dict]:
        """Stored results (contract JSON) where the article is the `derived` or `source` side
        (either when `role` is None), highest derived_share first."""
        if role not in (None, "derived", "source"):
            raise ValueError(f"role must be 'derived', 'source' or None, not {role!r}")
        where = f"{role} = ?" if role else "derived = ? OR source = ?"
        args = (article_id,) if role else (article_id, article_id)
        rows = self._db.execute(f"SELECT result FROM pairs WHERE {where} ORDER BY derived_share DESC", args).fetchall()
        texts = _Texts(self)
        return [_with_texts(r[0], texts) for r in rows]

    def get_pair(self, derived_id: str, source_id: str) -> dict | None:
        row = self._db.execute("SELECT result FROM pairs WHERE derived = ? AND source = ?",
                               (derived_id, source_id)).fetchone()
        return _with_texts(row[0], _Texts(self)) if row else None

    def iter_pairs(self) -> Iterator[dict]:
        texts = _Texts(self)
        for (result,) in self._db.execute("SELECT result FROM pairs ORDER BY derived, source"):
            yield _with_texts(result, texts)

    def article_text(self, article_id: str) -> str:
        row = self._db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise StoreError("no such article in the store", path=self.path, record=article_id)
        return row[0]

    def iter_pair_summaries(self, among: Iterable[str] | None = None) -> Iterator[Pair]:
        """Each stored pair's ids and verdict figures as a `Pair`, rounded as its contract JSON
        rounds them, without reading that JSON (what the family builder needs, at a fraction of
        the cost); `among`: only the pairs whose two articles are both among these ids."""
        columns = "derived, source, verdict, derived_share, source_share, confidence, credited"
        if among is None:
            rows = self._db.execute(f"SELECT {columns} FROM pairs ORDER BY derived, source")
        else:
            inside = set(among)
            rows = sorted(r for chunk in _chunks(sorted(inside)) for r in self._db.execute(
                f"SELECT {columns} FROM pairs WHERE derived IN ({','.join('?' * len(chunk))})", chunk)
                if r[1] in inside)
        for derived, source, verdict, d_share, s_share, confidence, credited in rows:
            yield Pair(derived, source, verdict, round(d_share, 4), round(s_share, 4), round(confidence, 3),
                       bool(credited))

    # --- stories and families (written by the clustering stage) -----------------------------------

    def save_stories(self, assignments: dict[str, str], *, replace_all: bool = False, settings: str = "") -> None:
        """Record ``{article id: story id}``; with `replace_all` earlier assignments are dropped
        first (a clustering run over the whole store), otherwise these ones are updated.
        `settings`: the clustering settings they were made with (`meta["story_settings"]`)."""
        with self._write() as db:
            if settings:
                self._set_meta({"story_settings": settings})
            if replace_all:
                db.execute("DELETE FROM stories")
            db.executemany("INSERT OR REPLACE INTO stories VALUES (?, ?)", assignments.items())

    def story_of(self, article_id: str) -> str | None:
        row = self._db.execute("SELECT story FROM stories WHERE article = ?", (article_id,)).fetchone()
        return row[0] if row else None

    def story_assignments(self) -> dict[str, str]:
        """``{article id: story id}`` of every article the last clustering saw."""
        return dict(self._db.execute("SELECT article, story FROM stories"))

    def unclustered(self) -> int:
        """How many stored articles have no story yet (added since the last clustering)."""
        return self._db.execute(
            "SELECT COUNT(*) FROM articles WHERE id NOT IN (SELECT article FROM stories)").fetchone()[0]

    def story_members(self, story: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT article FROM stories WHERE story = ? ORDER BY article", (story,))]

    def story_groups(self) -> dict[str, list[str]]:
        """``{story id: member ids}`` of every stored story, members in id order."""
        groups: dict[str, list[str]] = {}
        for article, story in self._db.execute("SELECT article, story FROM stories ORDER BY story, article"):
            groups.setdefault(story, []).append(article)
        return groups

    def save_families(self, edges: list[tuple[str, str, dict]], *, replace_all: bool = True, settings: str = "") -> None:
        """Record reuse-family edges ``(parent, child, data)``. An edge belongs to the family named
        by ``data["family"]``; without one, each connected group of edges is a family named after
        its root (the member that is nobody's child; the smallest id if several). By default
        earlier families are dropped first: families are recomputed as a whole. `settings`: the
        family builder's settings (`meta["family_settings"]`)."""
        with self._write() as db:
            if settings:
                self._set_meta({"family_settings": settings})
            if replace_all:
                db.execute("DELETE FROM families")
            _insert_families(db, edges)

    def linked(self, ids: Iterable[str], min_share: float, limit: int | None = None) -> set[str] | None:
        """`ids` and every article linked to them, through stored derived pairs whose
        derived_share (rounded as the contract JSON rounds it) reaches `min_share` (the family
        builder's edges) and through the stored families they are in: the articles whose
        families a scan that stored pairs of `ids` must build again. None once more than
        `limit` are found (building every family is then the quicker way)."""
        seen, todo = set(ids), list(ids)
        while todo:
            if limit is not None and len(seen) > limit:
                return None
            chunk, todo = todo[:_CHUNK], todo[_CHUNK:]
            marks = ",".join("?" * len(chunk))
            found = []
            for side in ("derived", "source"):  # one query per index (an OR of both reads the whole table)
                found += self._db.execute(
                    f"SELECT derived, source FROM pairs WHERE {side} IN ({marks}) AND verdict != 'not derived' "
                    f"AND round(derived_share, 4) >= ?", (*chunk, min_share)).fetchall()
            for side in ("parent", "child"):
                found += self._db.execute(
                    f"SELECT parent, child FROM families WHERE family IN (SELECT family FROM families "
                    f"WHERE {side} IN ({marks}))", chunk).fetchall()
            for pair in found:
                for article in pair:
                    if article not in seen:
                        seen.add(article)
                        todo.append(article)
        return seen

    def replace_families(self, among: set[str], edges: list[tuple[str, str, dict]], settings: str = "") -> None:
        """Drop the stored families with a member among `among`, then record `edges` (as
        `save_families` does): the families of those articles, built again."""
        with self._write() as db:  # one transaction: the old families stay until the new ones are in
            if settings:
                self._set_meta({"family_settings": settings})
            for chunk in _chunks(sorted(among)):
                marks = ",".join("?" * len(chunk))
                for side in ("parent", "child"):
                    db.execute(f"DELETE FROM families WHERE family IN (SELECT family FROM families WHERE {side} IN "
                               f"({marks}))", chunk)
            _insert_families(db, edges)

    def family_of(self, article_id: str) -> dict | None:
        """``{"family": id, "members": [...], "edges": [{"parent", "child", **data}]}`` or None."""
        row = self._db.execute(
            "SELECT family FROM families WHERE parent = ? OR child = ? LIMIT 1", (article_id, article_id)
        ).fetchone()
        if row is None:
            return None
        edges = [
            {"parent": p, "child": c, **json.loads(d)}
            for p, c, d in self._db.execute(
                "SELECT parent, child, data FROM families WHERE family = ? ORDER BY parent, child", (row[0],)
            )
        ]
        members = sorted({e["parent"] for e in edges} | {e["child"] for e in edges})
        return {"family": row[0], "members": members, "edges": edges}

    def iter_families(self) -> Iterator[tuple[str, str, str, dict]]:
        for family, parent, child, data in self._db.execute(
            "SELECT family, parent, child, data FROM families ORDER BY family, parent, child"
        ):
            yield family, parent, child, json.loads(data)


def _insert_families(db: sqlite3.Connection, edges: list[tuple[str, str, dict]]) -> None:
    families = _family_names(edges)
    db.executemany(
        "INSERT OR REPLACE INTO families VALUES (?, ?, ?, ?)",
        [(str(d.get("family") or families[p]), p, c, json.dumps(d, ensure_ascii=False)) for p, c, d in edges],
    )


_CHUNK = 400  # ids per SQL query (SQLite allows 32 766 parameters; some queries name a chunk twice)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for lo in range(0, len(ids), _CHUNK):
        yield ids[lo : lo + _CHUNK]


def _family_names(edges: list[tuple[str, str, dict]]) -> dict[str, str]:
    """Every member's family id: the root of its connected component (union-find)."""
    parent_of: dict[str, str] = {}

    def find(x: str) -> str:
        while parent_of.setdefault(x, x) != x:
            parent_of[x] = parent_of[parent_of[x]]
            x = parent_of[x]
        return x

    for p, c, _ in edges:
        parent_of[find(p)] = find(c)
    children = {c for _, c, _ in edges}
    roots: dict[str, str] = {}
    for member in sorted(parent_of):
        group = find(member)
        if member not in children and group not in roots:
            roots[group] = member
    return {m: roots.get(find(m), find(m)) for m in parent_of}
