"""The verbs of wiretrace as plain functions; the CLI and the web app call these."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import fingerprint as fp
from .align import align, embedding_texts, score
from .attribute import attribute, direction
from .ingest import read_article
from .models import Article, Comparison, Document
from .options import Options, load_options
from .segment import segment


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


def compare(a, b, options: Options | None = None) -> Comparison:
    """Is one of `a` and `b` a rewrite of the other? Paths, Articles or Documents, in any order.

    The original is decided from the evidence; with none either way `b` is taken as the source.
    """
    options = options or load_options()
    t0 = time.perf_counter()
    x, y = read(a, options), read(b, options)
    if x.article.id == y.article.id:
        # Sentences carry their article's id: the two sides must not share one.
        y = read(replace(y.article, id=y.article.id + "~2"), options)
    t1 = time.perf_counter()
    vx, vy = embed(x, options), embed(y, options)
    t2 = time.perf_counter()
    scores = score(x, y, vx, vy)
    alignment = align(x, y, scores, options.align)
    dir_ = direction(x, y, alignment)
    derived, source = x, y
    if dir_.original == x.article.id:
        derived, source = y, x
        alignment = align(y, x, scores.transpose(), options.align)
    verdict = attribute(derived, source, alignment, dir_, options.attribute)
    t3 = time.perf_counter()
    timings = {"read": t1 - t0, "embed": t2 - t1, "align": t3 - t2}
    return Comparison(derived, source, alignment, verdict, timings)
