"""The plain data that flows between wiretrace's stages.

Every stage takes and returns these frozen dataclasses, so a stage runs the same in one process,
across processes or on a cluster. Offsets (`start`, `end`) are always character offsets into
`Article.text`, the text exactly as it was read from the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# Sentence roles.
TITLE, BODY, BOILERPLATE = "title", "body", "boilerplate"
ROLES = (TITLE, BODY, BOILERPLATE)

# Labels of a derived article's body sentences ...
VERBATIM, EDITED, PARAPHRASE, NEW = "verbatim", "edited", "paraphrase", "new"
# ... and of a source article's body sentences.
USED, OMITTED = "used", "omitted"
DERIVED_LABELS = (VERBATIM, EDITED, PARAPHRASE, NEW)
SOURCE_LABELS = (USED, OMITTED)

# Verdicts (the journalistic scheme of the METER and COUNTER corpora).
WHOLLY, PARTIALLY, NOT_DERIVED = "wholly derived", "partially derived", "not derived"
VERDICTS = (WHOLLY, PARTIALLY, NOT_DERIVED)


@dataclass(frozen=True)
class Article:
    """One news article as read, with whatever metadata the file or its text gave."""

    id: str
    text: str
    title: str = ""
    url: str = ""
    outlet: str = ""
    published: str = ""  # ISO 8601 date or datetime, "" when unknown
    language: str = ""
    byline: str = ""  # author or agency named in a byline ("AFP", "Jane Doe")
    credits: tuple[str, ...] = ()  # agencies/outlets the article names as its own source
    dateline: str = ""  # "PARIS (AFP) -" style opening, as found
    path: str = ""  # the file it came from, "" when it came from memory

    def meta(self) -> dict:
        """The article's metadata without its text (the `derived`/`source` objects of the JSON)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "text"}  # no deep copy of the text
        data["credits"] = list(self.credits)
        return data


@dataclass(frozen=True)
class Sentence:
    """A sentence (or a title, heading or boilerplate line) with offsets into `Article.text`."""

    article: str
    index: int
    start: int
    end: int
    text: str  # == article.text[start:end]
    role: str = BODY
    paragraph: int = 0
    norm: str = ""  # Unicode-normalised text used for matching (same length not guaranteed)
    rule: str = ""  # the boilerplate or title rule that set the role, for explanation


@dataclass(frozen=True)
class Document:
    """An article with its segmentation: the unit the fingerprint and align stages work on."""

    article: Article
    sentences: tuple[Sentence, ...]

    @property
    def body(self) -> tuple[Sentence, ...]:
        return tuple(s for s in self.sentences if s.role == BODY)


@dataclass(frozen=True)
class StoryTerms:
    """What story clustering reads of an article (`fingerprint.story_counts`): the content-word
    stems of its title, and of its body with their counts, and the names in its body with the
    number of sentences naming each. Stores keep them from `add` on."""

    article: str  # Article.id
    published: str
    title: tuple[str, ...]
    stems: dict[str, int]
    names: dict[str, int]


@dataclass(frozen=True)
class Match:
    """One counterpart of a sentence in the other article."""

    index: int  # Sentence.index of the counterpart in the other article
    lexical: float  # 0..1 word-level similarity
    semantic: float  # 0..1 embedding cosine (clipped at 0)
    spans: tuple[tuple[int, int], ...] = ()  # matched word spans in *this* sentence (article offsets)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "lexical": round(self.lexical, 3),
            "semantic": round(self.semantic, 3),
            "spans": [list(s) for s in self.spans],
        }


@dataclass(frozen=True)
class ChangedFact:
    """Similar sentences that disagree on a fact: a number, a name or a polarity ("raised"/"cut")."""

    derived_index: int
    source_index: int
    kind: str  # "number" | "name" | "polarity"
    derived: str  # the value as the derived article gives it
    source: str  # the value as the source gives it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Labelled:
    """A sentence with its alignment label and counterparts."""

    sentence: Sentence
    label: str = ""  # "" for titles and boilerplate
    matches: tuple[Match, ...] = ()
    quotation: bool = False  # matched only through a shared quotation, not counted as copying

    def to_dict(self) -> dict:
        s = self.sentence
        data = {
            "article": s.article,
            "index": s.index,
            "start": s.start,
            "end": s.end,
            "text": s.text,
            "role": s.role,
            "label": self.label or None,
            "matches": [m.to_dict() for m in self.matches],
        }
        if self.quotation:
            data["quotation"] = True
        if s.rule:
            data["rule"] = s.rule
        return data


@dataclass(frozen=True)
class Alignment:
    """Both articles' sentences labelled against each other; `derived` is the rewrite side."""

    derived: tuple[Labelled, ...]
    source: tuple[Labelled, ...]
    changed_facts: tuple[ChangedFact, ...] = ()


@dataclass(frozen=True)
class Direction:
    original: str  # article id
    confidence: float  # 0..1
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "confidence": round(self.confidence, 3),
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class Verdict:
    verdict: str
    derived_share: float
    source_share: float
    direction: Direction
    credited: bool
    credit_evidence: tuple[str, ...] = ()
    shared_quotations: int = 0


@dataclass(frozen=True)
class Pair:
    """A compared pair as the family builder needs it: `derived` was written from `source` (a
    `Comparison`'s ids and verdict figures, without its alignment)."""

    derived: str
    source: str
    verdict: str
    derived_share: float
    source_share: float = 0.0
    confidence: float = 1.0  # of the direction (which is the original)
    credited: bool = False


@dataclass(frozen=True)
class Comparison:
    """The answer to "is one of these a rewrite of the other?" — the JSON contract's object."""

    derived: Document
    source: Document
    alignment: Alignment
    verdict: Verdict
    timings: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        v = self.verdict
        return {
            "derived": self.derived.article.meta(),
            "source": self.source.article.meta(),
            "verdict": v.verdict,
            "derived_share": round(v.derived_share, 4),
            "source_share": round(v.source_share, 4),
            "direction": v.direction.to_dict(),
            "credited": v.credited,
            "credit_evidence": list(v.credit_evidence),
            "shared_quotations": v.shared_quotations,
            "changed_facts": [c.to_dict() for c in self.alignment.changed_facts],
            "sentences": [x.to_dict() for x in self.alignment.derived + self.alignment.source],
        }
