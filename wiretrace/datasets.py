"""Readers for the public evaluation sets that `wiretrace eval` and `eval/fit.py` measure on.

Each reader takes a folder laid out like the one in ``shared/data`` (any half of the set: the
development half that tuning sees, or a held-out half) and returns plain dataclasses. A file that
does not follow the layout is an `InputError` naming the file, the line or record and the rule.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .models import NOT_DERIVED, PARTIALLY, WHOLLY, Article

DATASETS = ("counter", "msrp", "stsb", "basil", "ecbplus", "helsinki")

COUNTER_LABELS = {"WD": WHOLLY, "PD": PARTIALLY, "ND": NOT_DERIVED}
BASIL_SOURCES = ("fox", "nyt", "hpo")
STSB_FIELDS = 7  # genre, subset, year, id, score, s1, s2 (extra trailing fields are dropped)
NEWS_GENRE = "main-news"


@dataclass(frozen=True)
class CounterPair:
    """A COUNTER news-agency story and the newspaper article written from (or beside) it."""

    id: str  # pair number, "0001"
    source: Article  # the agency story, NNNN.xml
    derived: Article  # the newspaper article, NNNNp.xml
    label: str  # gold verdict: "wholly derived" | "partially derived" | "not derived"


@dataclass(frozen=True)
class ParaphrasePair:
    """An MSRP sentence pair."""

    id1: str
    id2: str
    s1: str
    s2: str
    paraphrase: bool
    line: int  # 1-based line in the file

    @property
    def id(self) -> str:
        return f"{self.id1}-{self.id2}"


@dataclass(frozen=True)
class SimilarityPair:
    """An STS-B sentence pair with its gold similarity (0-5)."""

    file: str  # file name inside the folder, "sts-dev.csv"
    line: int  # 1-based line in that file
    genre: str
    subset: str
    year: str
    id: str
    score: float
    s1: str
    s2: str


@dataclass(frozen=True)
class BasilArticle:
    """One BASIL article; the three outlets' articles on one event share `event`."""

    article: Article  # id: the file stem, "2b95d2cf-..._1"
    event: str  # triplet-uuid
    source: str  # "fox" | "nyt" | "hpo" (lower case)
    main_event: str


# --- COUNTER ---------------------------------------------------------------------------------


def load_counter(folder: str | Path) -> list[CounterPair]:
    """Source/derived pairs from a COUNTER folder (``NNNN.xml`` + ``NNNNp.xml``), in pair order."""
    folder = _folder(folder, "COUNTER")
    sources: dict[str, Path] = {}
    derived: dict[str, Path] = {}
    for path in folder.iterdir():
        match = re.fullmatch(r"(\d+)([pP]?)\.xml", path.name)
        if match:  # the set has one odd "0032P.xml": the suffix is read in any case
            (derived if match.group(2) else sources)[match.group(1)] = path
    if not sources and not derived:
        raise InputError("no NNNN.xml / NNNNp.xml files; expected a COUNTER folder", path=folder)
    for number in sorted(set(sources) ^ set(derived)):
        present = sources.get(number) or derived[number]
        missing = f"{number}p.xml" if number in sources else f"{number}.xml"
        raise InputError(f"its pair file {missing} is missing from the folder", path=present)
    pairs = []
    for number in sorted(sources):
        source, _ = _counter_article(sources[number])
        article, code = _counter_article(derived[number])
        if code not in COUNTER_LABELS:
            raise InputError(
                f'classification="{code}" on the derived file; expected one of WD, PD, ND',
                path=derived[number],
            )
        pairs.append(CounterPair(number, source, article, COUNTER_LABELS[code]))
    return pairs


def _counter_article(path: Path) -> tuple[Article, str]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML ({exc.msg}); expected COUNTER XML",
                         path=path, record=line) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None
    if root.tag.lower() != "counter_document":
        raise InputError(f"root element <{root.tag}>; expected <COUNTER_document>", path=path)
    parts = {}
    for name in ("headline", "body"):
        element = root.find(name)
        if element is None:
            raise InputError(f"no <{name}> element; expected COUNTER XML", path=path)
        parts[name] = " ".join("".join(element.itertext()).split())
    # Headline on its own line so that segmentation gives the title its own sentence.
    article = Article(
        id=path.stem,
        text=f"{parts['headline']}\n\n{parts['body']}",
        title=parts["headline"],
        outlet=root.get("newspaper", ""),
        published=_counter_date(root.get("newsdate", "")),
        language="ur",
        path=str(path),
    )
    return article, root.get("classification", "").strip().upper()


def _counter_date(value: str) -> str:
    """COUNTER's ``newsdate="01.12.14"`` (day.month.2-digit year) as ISO ``2014-12-01``."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})", value.strip())
    if not match:
        return ""
    day, month, year = match.groups()
    year = f"20{year}" if len(year) == 2 else year
    return f"{year}-{int(month):02d}-{int(day):02d}"


# --- MSRP ------------------------------------------------------------------------------------


def load_msrp(folder: str | Path) -> list[ParaphrasePair]:
    """MSRP pairs from the ``*.txt`` TSV files of a folder (BOM, no header; quotes are text)."""
    pairs = []
    for path in _files(_folder(folder, "MSRP"), "msr*.txt", "MSRP"):
        for line, row in _tsv(path):
            if len(row) != 5:
                raise InputError(
                    f"{len(row)} tab-separated fields; expected 5 (quality, id1, id2, string1, string2)",
                    path=path, record=line,
                )
            quality, id1, id2, s1, s2 = row
            if quality in {"Quality", "\ufeffQuality"}:  # the distribution's optional header row
                continue
            if quality not in {"0", "1"}:
                raise InputError(f"quality {quality!r}; expected 0 or 1", path=path, record=line)
            pairs.append(ParaphrasePair(id1, id2, s1, s2, quality == "1", line))
    return pairs


# --- STS-B -----------------------------------------------------------------------------------


def load_stsb(folder: str | Path, genre: str | None = NEWS_GENRE) -> list[SimilarityPair]:
    """STS-B pairs from the ``*.csv`` TSV files of a folder; only `genre` unless it is None."""
    pairs = []
    for path in _files(_folder(folder, "STS-B"), "sts-*.csv", "STS-B"):
        for line, row in _tsv(path):
            if len(row) < STSB_FIELDS:
                raise InputError(
                    f"{len(row)} tab-separated fields; expected 7 "
                    "(genre, subset, year, id, score, s1, s2)",
                    path=path, record=line,
                )
            kind, subset, year, pair_id, score, s1, s2 = row[:STSB_FIELDS]
            value = _number(score)
            if value is None or not 0.0 <= value <= 5.0:
                raise InputError(f"score {score!r}; expected a number from 0 to 5", path=path, record=line)
            if genre is None or kind == genre:
                pairs.append(SimilarityPair(path.name, line, kind, subset, year, pair_id, value, s1, s2))
    return pairs


# --- BASIL -----------------------------------------------------------------------------------


def load_basil(folder: str | Path) -> list[BasilArticle]:
    """BASIL articles (``articles/<year>/*.json``, or JSON files anywhere below `folder`)."""
    folder = _folder(folder, "BASIL")
    paths = sorted(folder.rglob("*.json"), key=lambda p: (p.stem, str(p)))
    if not paths:
        raise InputError("no *.json article files; expected a BASIL folder (articles/<year>/*.json)",
                         path=folder)
    return [_basil_article(path) for path in paths]


def basil_events(articles: list[BasilArticle]) -> dict[str, list[BasilArticle]]:
    """Articles grouped by event (triplet-uuid), each group in file-stem order."""
    events: dict[str, list[BasilArticle]] = {}
    for item in articles:
        events.setdefault(item.event, []).append(item)
    return {event: sorted(items, key=lambda x: x.article.id) for event, items in events.items()}


def _basil_article(path: Path) -> BasilArticle:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, column {exc.colno})", path=path,
                         record=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as UTF-8 JSON ({exc})", path=path) from None
    if not isinstance(data, dict):
        raise InputError("top level is not a JSON object; expected a BASIL article", path=path)
    for key in ("title", "source", "triplet-uuid", "body-paragraphs"):
        if key not in data:
            raise InputError(f'no "{key}" field; expected a BASIL article', path=path)
    source = str(data["source"]).strip().lower()
    if source not in BASIL_SOURCES:
        raise InputError(f"source {data['source']!r}; expected fox, nyt or hpo", path=path)
    paragraphs = _basil_paragraphs(data["body-paragraphs"], path)
    title = " ".join(str(data["title"]).split())
    body = "\n\n".join(paragraphs)
    article = Article(
        id=path.stem,
        text=f"{title}\n\n{body}" if title else body,
        title=title,
        url=str(data.get("url", "")),
        outlet=source,
        published=str(data.get("date", "")),
        language="en",
        path=str(path),
    )
    return BasilArticle(article, str(data["triplet-uuid"]), source, str(data.get("main-event", "")))


def _basil_paragraphs(value: object, path: Path) -> list[str]:
    """``body-paragraphs``: a list of paragraphs, each a list of strings, possibly given as the
    Python-literal text of that list (the set mixes both)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise InputError('"body-paragraphs" is a string but not a Python list literal',
                             path=path) from None
    if not isinstance(value, list):
        raise InputError('"body-paragraphs" is not a list of paragraphs', path=path)
    paragraphs = []
    for number, paragraph in enumerate(value, 1):
        pieces = paragraph if isinstance(paragraph, list) else [paragraph]
        if not all(isinstance(p, str) for p in pieces):
            raise InputError(f'"body-paragraphs" paragraph {number} holds something other than text',
                             path=path)
        text = " ".join(" ".join(pieces).split())
        if text:
            paragraphs.append(text)
    return paragraphs


# --- ECB+ and Helsinki (stories and corpora: read by `corpus_eval`) ---------------------------

_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}]|'s\b|'S\b|n't\b|'re\b|'ve\b|'ll\b|'d\b|'m\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{$]) ")


@dataclass(frozen=True)
class EcbDocument:
    """One ECB+ news document; `story` is its gold event: topic + "ecb" or "ecbplus"."""

    article: Article  # id: the file name, "1_10ecb.xml"
    topic: str
    story: str  # "1/ecb", "1/ecbplus"


def load_ecbplus(folder: str | Path) -> list[EcbDocument]:
    """ECB+ documents (``<topic>/<topic>_<n>ecb[plus].xml``, below an ``ECB+`` folder or not)."""
    folder = _folder(folder, "ECB+")
    if (folder / "ECB+").is_dir():
        folder = folder / "ECB+"
    paths = sorted(folder.glob("*/*.xml"), key=lambda p: p.name)
    docs = [_ecb_document(path) for path in paths if re.fullmatch(r"\d+_\d+ecb(plus)?\.xml", path.name)]
    if not docs:
        raise InputError("no <topic>/<topic>_<n>ecb.xml files; expected the ECB+ folder", path=folder)
    return docs


def detokenize(tokens: list[str]) -> str:
    """Tokens joined back into text: no space before closing punctuation, `` and '' as quotes."""
    text = " ".join("\"" if t in ("``", "''") else t for t in tokens)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def _ecb_document(path: Path) -> EcbDocument:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML ({exc.msg}); expected ECB+ XML", path=path, record=line) from None
    sentences: dict[int, list[str]] = {}
    for token in root.iter("token"):
        try:
            number = int(token.get("sentence", ""))
        except ValueError:
            raise InputError(f'<token t_id="{token.get("t_id")}"> has no sentence number', path=path) from None
        sentences.setdefault(number, []).append(token.text or "")
    if not sentences:
        raise InputError("no <token> elements; expected ECB+ tokenised XML", path=path)
    # One sentence a line: segmentation takes a first line without final punctuation as the title.
    text = "\n".join(detokenize(sentences[k]) for k in sorted(sentences)) + "\n"
    topic, _, rest = path.name.partition("_")
    kind = "ecbplus" if rest.endswith("ecbplus.xml") else "ecb"
    article = Article(id=path.name, text=text, language="en", path=str(path))
    return EcbDocument(article, topic, f"{topic}/{kind}")


def load_helsinki(folder: str | Path, files: tuple[str, ...] = ("helsinki_articles.csv",)) -> list[Article]:
    """Helsinki-summit articles: CSV ``id, publisher, scrape_time, text`` with `` ### `` between
    paragraphs. The first paragraph is the headline."""
    folder = _folder(folder, "Helsinki")
    articles = []
    csv.field_size_limit(1 << 30)
    for name in files:
        path = folder / name
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = {"id", "publisher", "scrape_time", "text"} - set(reader.fieldnames or ())
                if missing:
                    raise InputError(f"no {', '.join(sorted(missing))} column; expected id, publisher, "
                                     "scrape_time, text", path=path, record=1)
                for row in reader:
                    parts = [p.strip() for p in row["text"].split(" ### ") if p.strip()]
                    if not parts:
                        continue
                    articles.append(Article(
                        id=f"{path.stem.removesuffix('_articles')}-{row['id']}", text="\n\n".join(parts) + "\n",
                        title=parts[0], outlet=row["publisher"], published=row["scrape_time"],
                        language="en", path=f"{path}:{reader.line_num}"))
        except FileNotFoundError:
            raise InputError(f"no {name}; expected the Helsinki data folder", path=folder) from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"unreadable CSV ({exc})", path=path) from None
    return articles


# --- shared ----------------------------------------------------------------------------------


def _folder(folder: str | Path, name: str) -> Path:
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"not a folder; expected the {name} data folder", path=path)
    return path


def _files(folder: Path, pattern: str, name: str) -> list[Path]:
    paths = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not paths:
        raise InputError(f"no {pattern} files; expected the {name} data folder", path=folder)
    return paths


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _tsv(path: Path):
    """(1-based line number, fields) of each non-empty line. QUOTE_NONE: quotes are sentence text,
    and csv's default quoting would swallow tabs and newlines up to the next quote."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for row in reader:
                if row and any(field.strip() for field in row):
                    yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte at offset {exc.start}); save it as UTF-8",
                         path=path) from None
    except csv.Error as exc:
        raise InputError(f"unreadable TSV ({exc})", path=path) from None
