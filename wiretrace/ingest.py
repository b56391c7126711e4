"""Read articles from files: plain text, HTML, JSON, JSONL, CSV, Parquet, WARC, folders and stdin.

`read_article` reads one file into an `Article` and raises `InputError` when it cannot.
`iter_articles` streams any mix of files and folders and *yields* an `InputError` for each bad file
or record instead of stopping, so a batch keeps going; it holds one record at a time, never a whole
container file.

Offsets: for plain text, JSON, JSONL, CSV and Parquet, `Article.text` is the text exactly as decoded
(no newline translation), so sentence offsets are offsets into the file's text or the record's
text field. For HTML and WARC responses `Article.text` is the main text that trafilatura extracted,
and offsets refer to that extracted text, not to the HTML source.

Metadata the file does not carry is taken from the text (`extract_metadata`): bylines, agency
datelines ("PARIS (AFP) -"), date lines and "Original url:" lines near the top of the article.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Union
from urllib.parse import urlsplit

from .boilerplate import (
    byline_name,
    CREDIT_LINE_RE,
    DATELINE_RE,
    agencies_mentioned,
    credited_agencies,
    header_fields,
    is_date_line,
    parse_date,
)
from .errors import InputError
from .models import Article
from .options import IngestOptions
from .segment import normalize

__all__ = [
    "agencies_mentioned",
    "extract_metadata",
    "iter_articles",
    "read_article",
]

TEXT_SUFFIXES = {"", ".txt", ".md", ".text", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
RECORD_SUFFIXES = {".json"}
CONTAINER_SUFFIXES = {".jsonl", ".ndjson", ".csv", ".parquet", ".warc", ".warc.gz"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | CONTAINER_SUFFIXES
STDIN = "-"

PathLike = Union[str, os.PathLike]


# --- metadata from the text -------------------------------------------------------------------

_HEAD_LINES = 8  # bylines, datelines and date lines are looked for in this many non-empty lines
_URL_RE = re.compile(r"https?://[^\s<>()\[\]\"']+|www\.[^\s<>()\[\]\"']+")
_SOURCE_HINT = re.compile(r"\W*(?:orig|sour|read)", re.IGNORECASE)
_SOURCE_LABEL_RE = re.compile(
    r"^(?:original(?:ly)?\s+(?:url|link|article|source|posted|published)(?:\s+(?:at|on|in))?|"
    r"source(?:\s+(?:url|link))?|read\s+(?:the\s+)?original(?:\s+(?:at|on|here))?)\s*:",
    re.IGNORECASE,
)


def extract_metadata(text: str) -> dict:
    """Metadata an article states in its own text: byline, credits, dateline, published, url, outlet.

    Bylines ("By AFP", "By [AFP](#)", "By Jane Doe"), datelines ("PARIS (AFP) -",
    "WASHINGTON, Nov 3 (Reuters) -"), date lines ("November 17, 2022") and header lines of fields
    ("By Jane Doe | Reuters | March 12, 2024", "Posted on 13 March 2024 by newsdesk") count only
    near the top of the article; a trailing "— AP" credit line counts at the end. "told AFP" inside the story is
    an interview mention, not a credit: see `agencies_mentioned` for those. Keys are only present
    when found.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meta: dict = {}
    credits: list[str] = []
    for raw in lines[:_HEAD_LINES]:
        line = normalize(raw)
        byline = byline_name(line)
        if byline and "byline" not in meta:
            meta["byline"] = byline
            credits += credited_agencies(byline)
        dateline = DATELINE_RE.match(raw) or DATELINE_RE.match(line)  # kept as found
        if dateline and "dateline" not in meta and credited_agencies(dateline["agency"]):
            meta["dateline"] = dateline["dateline"].strip()
            credits += credited_agencies(dateline["agency"])
        if "published" not in meta and is_date_line(line):
            meta["published"] = parse_date(line)
        fields = header_fields(line)
        if fields:
            _merge_header(meta, credits, fields)
    for raw in lines[-3:]:
        match = CREDIT_LINE_RE.match(normalize(raw))
        if match:
            credits += credited_agencies(match["agency"])
    url = _source_url(lines)
    if url:
        meta["url"] = url
        meta["outlet"] = outlet_from_url(url)  # the site itself beats a name in a header line
    if credits:
        meta["credits"] = tuple(dict.fromkeys(credits))
    return meta


def _merge_header(meta: dict, credits: list[str], fields) -> None:
    """Fields of a header line ("By Jane Doe | Reuters | March 12, 2024") not already found."""
    if fields.byline and "byline" not in meta:
        meta["byline"] = fields.byline
    credits += fields.agencies
    if fields.published and "published" not in meta:
        meta["published"] = fields.published
    if fields.outlet and "outlet" not in meta:
        meta["outlet"] = fields.outlet


def _source_url(lines: list[str]) -> str:
    """The URL of an "Original url:" / "Source:" line, on the line itself or the next one."""
    for i, raw in enumerate(lines):
        if not _SOURCE_HINT.match(raw):  # cheap test first: most lines are story text
            continue
        line = normalize(raw, markdown=False)
        if not _SOURCE_LABEL_RE.match(line):
            continue
        for candidate in (line, *(normalize(x, markdown=False) for x in lines[i + 1 : i + 2])):
            match = _URL_RE.search(candidate)
            if match:
                return match.group(0).rstrip(".,;>")
    return ""


def outlet_from_url(url: str) -> str:
    """The site's host without "www." ("https://www.example.com/a" -> "example.com")."""
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    return host.removeprefix("www.")


# --- reading bytes ----------------------------------------------------------------------------


def _check_size(path: Path, options: IngestOptions) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None
    if size > options.max_bytes:
        raise InputError(
            f"file too large ({size:,} bytes; the limit is ingest.max_bytes = {options.max_bytes:,}); "
            "split it or raise the limit",
            path=path,
        )


def _read_bytes(path: Path, options: IngestOptions) -> bytes:
    if path.is_dir():
        raise InputError("is a directory, expected a file; use iter_articles for folders", path=path)
    _check_size(path, options)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None


def decode(data: bytes, options: IngestOptions, path: PathLike = "", record=None) -> str:
    """Bytes as text, refusing binary data with a message that says what to do."""
    wide = options.encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    nul = -1 if wide else data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"binary data, not text (NUL byte at offset {nul}); expected text, HTML or JSON "
            "(if it is UTF-16 text, set ingest.encoding)",
            path=path, record=record,
        )
    encoding = "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"not {options.encoding} text (byte 0x{bad} at offset {exc.start}); "
            f"save it as {options.encoding} or set ingest.encoding to the file's encoding",
            path=path, record=record,
        ) from None
    if _mostly_control(text):
        raise InputError(
            "binary data, not text (mostly control characters); expected text, HTML or JSON",
            path=path, record=record,
        )
    return text


def _mostly_control(text: str, sample: int = 4096) -> bool:
    head = text[:sample]
    control = sum(1 for c in head if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    return control * 10 > len(head)


def _require_text(text: str, path: PathLike, record=None, what: str = "file") -> None:
    if not text.strip():
        raise InputError(f"empty {what} (no text, only whitespace); expected an article", path=path, record=record)


def holds_one_article(path: PathLike) -> bool:
    """Is `path` a file of one article (text, HTML, JSON), not a container of many records?"""
    return _suffix(Path(path)) not in CONTAINER_SUFFIXES


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".warc.gz" if name.endswith(".warc.gz") else path.suffix.lower()


# --- one article ------------------------------------------------------------------------------


def read_article(path: PathLike, options: IngestOptions = IngestOptions()) -> Article:
    """One article from a text, Markdown, HTML or JSON file; raises `InputError` when it cannot.

    Text files: the first non-empty line is the title and metadata come from the text. HTML: main
    text, title, date and site name through trafilatura. JSON: one object with the fields named in
    `options` (id, url, outlet, published, title, text). The id defaults to the file name's stem.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix in CONTAINER_SUFFIXES:
        raise InputError(
            f"a {suffix} file holds many articles; read it with iter_articles", path=path
        )
    if suffix not in KNOWN_SUFFIXES:
        raise InputError(
            f"unknown file type {suffix!r}; expected one of {', '.join(sorted(KNOWN_SUFFIXES - {''}))} "
            "or no extension (plain text)",
            path=path,
        )
    data = _read_bytes(path, options)
    if suffix in HTML_SUFFIXES:
        return html_article(data, path.stem, path=path)
    text = decode(data, options, path)
    _require_text(text, path)
    if suffix in RECORD_SUFFIXES:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})", path=path
            ) from None
        return record_article(record, options, default_id=path.stem, path=path)
    return text_article(text, path.stem, path=path)


def text_article(text: str, id: str, path: PathLike = "") -> Article:
    """An article from plain text: first non-empty line is the title, metadata from the text."""
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = normalize(title, markdown=False).lstrip("#").strip()
    return Article(id=id, text=text, title=title, path=str(path), **extract_metadata(text))


def html_article(data: bytes | str, id: str, path: PathLike = "", record=None, url: str = "") -> Article:
    """An article from an HTML page: trafilatura's main text and metadata."""
    import trafilatura  # heavy: imported when HTML is first read

    if not data.strip():
        raise InputError("empty file (no HTML); expected an article page", path=path, record=record)
    document = trafilatura.bare_extraction(
        data, url=url or None, with_metadata=True, include_comments=False
    )
    text = (document.text or "") if document is not None else ""
    if not text.strip():
        raise InputError(
            "no article text found in the HTML (trafilatura extracted nothing); "
            "is it an article page?",
            path=path, record=record,
        )
    found = extract_metadata(text)
    return Article(
        id=id,
        text=text,
        title=document.title or "",
        url=document.url or url or found.get("url", ""),
        outlet=document.sitename or document.hostname or found.get("outlet", ""),
        published=document.date or found.get("published", ""),
        language=document.language or "",
        byline=document.author or found.get("byline", ""),
        credits=found.get("credits", ()),
        dateline=found.get("dateline", ""),
        path=str(path),
    )


def record_article(
    record: object, options: IngestOptions, default_id: str, path: PathLike = "", where=None
) -> Article:
    """An article from a JSON/CSV/Parquet record with the field names given in `options`."""
    if not isinstance(record, dict):
        raise InputError(
            f"a JSON {type(record).__name__}, expected an object with a {options.text_field!r} field",
            path=path, record=where,
        )
    text = record.get(options.text_field)
    if not isinstance(text, str) or not text.strip():
        problem = "no" if text is None else "an empty" if isinstance(text, str) else "a non-string"
        raise InputError(
            f"{problem} {options.text_field!r} field; each record needs the article text there "
            f"(fields: {options.id_field}, {options.url_field}, {options.outlet_field}, "
            f"{options.published_field}, {options.title_field}, {options.text_field}; "
            "set ingest.text_field to use another name)",
            path=path, record=where,
        )
    found = extract_metadata(text)

    def field(name: str, fallback: str = "") -> str:
        value = record.get(name)
        return fallback if value is None or value == "" else str(value)

    return Article(
        id=field(options.id_field, default_id),
        text=text,
        title=field(options.title_field),
        url=field(options.url_field, found.get("url", "")),
        outlet=field(options.outlet_field, found.get("outlet", "")),
        published=field(options.published_field, found.get("published", "")),
        language=field("language"),
        byline=field("byline", found.get("byline", "")),
        credits=found.get("credits", ()),
        dateline=found.get("dateline", ""),
        path=str(path),
    )


# --- many articles ----------------------------------------------------------------------------

Item = Union[Article, InputError]


def iter_articles(
    paths: PathLike | Iterable[PathLike], options: IngestOptions = IngestOptions()
) -> Iterator[Item]:
    """Articles from files, folders (recursive, sorted, hidden files skipped) and "-" (JSONL on
    stdin). A bad file or record is yielded as an `InputError` and reading goes on."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for item in paths:
        if str(item) == STDIN:
            yield from _jsonl_lines(sys.stdin.buffer, "<stdin>", "stdin", options)
            continue
        path = Path(item)
        if path.is_dir():
            for file in _walk(path):
                yield from _read_file(file, options)
        elif not path.exists():
            yield InputError("file or folder not found", path=path)
        else:
            yield from _read_file(path, options)


def _walk(folder: Path) -> Iterator[Path]:
    """Files with a known suffix under `folder`, depth first in sorted order, hidden ones skipped."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            yield from _walk(path)
        elif entry.is_file() and _suffix(path) in KNOWN_SUFFIXES:
            yield path


def _read_file(path: Path, options: IngestOptions) -> Iterator[Item]:
    suffix = _suffix(path)
    readers = {
        ".jsonl": _read_jsonl, ".ndjson": _read_jsonl, ".csv": _read_csv,
        ".parquet": _read_parquet, ".warc": _read_warc, ".warc.gz": _read_warc,
    }
    try:
        if suffix in readers:
            yield from readers[suffix](path, options)
        else:
            yield read_article(path, options)
    except InputError as error:
        yield error


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None


def _read_jsonl(path: Path, options: IngestOptions) -> Iterator[Item]:
    with _open(path) as stream:
        yield from _jsonl_lines(stream, str(path), path.stem, options)


def _jsonl_lines(stream: IO[bytes], name: str, stem: str, options: IngestOptions) -> Iterator[Item]:
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            if len(raw) > options.max_bytes:
                raise InputError(
                    f"record too large ({len(raw):,} bytes; the limit is ingest.max_bytes)",
                    path=name, record=number,
                )
            line = decode(raw, options, name, number)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"invalid JSON at column {exc.colno} ({exc.msg}); expected one JSON object per line",
                    path=name, record=number,
                ) from None
            yield record_article(record, options, default_id=f"{stem}:{number}", path=name, where=number)
        except InputError as error:
            yield error


def _read_csv(path: Path, options: IngestOptions) -> Iterator[Item]:
    # Articles are long: allow fields up to the per-file limit (the default is 128 KiB).
    csv.field_size_limit(max(csv.field_size_limit(), min(options.max_bytes, sys.maxsize)))
    with _open(path) as raw:
        stream = io.TextIOWrapper(raw, encoding=_text_encoding(options), newline="")
        reader = csv.DictReader(stream)
        try:
            header = reader.fieldnames or []
            if options.text_field not in header:
                raise InputError(
                    f"no {options.text_field!r} column in the CSV header (columns: "
                    f"{', '.join(header) or 'none'}); set ingest.text_field to the text column",
                    path=path, record=1,
                )
            line = reader.line_num
            for row in reader:
                try:
                    yield record_article(row, options, default_id=f"{path.stem}:{line + 1}", path=path, where=line + 1)
                except InputError as error:
                    yield error
                line = reader.line_num
        except UnicodeDecodeError as exc:
            yield InputError(
                f"not {options.encoding} text (byte 0x{exc.object[exc.start:exc.start + 1].hex()} after line "
                f"{reader.line_num}); save it as {options.encoding} or set ingest.encoding; "
                "the rest of the file is skipped",
                path=path, record=reader.line_num + 1,
            )
        except csv.Error as exc:
            yield InputError(f"malformed CSV ({exc}); the rest of the file is skipped", path=path, record=reader.line_num)


def _text_encoding(options: IngestOptions) -> str:
    return "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding


def _read_parquet(path: Path, options: IngestOptions) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=path) from None
    names = set(file.schema_arrow.names)
    if options.text_field not in names:
        raise InputError(
            f"no {options.text_field!r} column (columns: {', '.join(sorted(names))}); "
            "set ingest.text_field to the text column",
            path=path,
        )
    wanted = {
        options.id_field, options.url_field, options.outlet_field, options.published_field,
        options.title_field, options.text_field, "language", "byline",
    }
    row = 0
    try:
        for batch in file.iter_batches(batch_size=256, columns=sorted(wanted & names)):
            for record in batch.to_pylist():
                try:
                    yield record_article(record, options, default_id=f"{path.stem}:{row}", path=path, where=f"row {row}")
                except InputError as error:
                    yield error
                row += 1
    except (pa.ArrowException, OSError) as exc:
        yield InputError(f"cannot read Parquet data ({exc}); the rest of the file is skipped", path=path, record=f"row {row}")


def _read_warc(path: Path, options: IngestOptions) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    number = 0
    with _open(path) as stream:
        try:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response":
                    continue
                number += 1
                try:
                    article = _warc_article(record, path, number, options)
                except InputError as error:
                    yield error
                    continue
                if article is not None:
                    yield article
        except ArchiveLoadFailed as exc:
            yield InputError(
                f"not a readable WARC file ({exc}); the rest of the file is skipped",
                path=path, record=f"record {number + 1}",
            )


def _warc_article(record, path: Path, number: int, options: IngestOptions) -> Article | None:
    """An article from an HTML (or plain text) response record; None for other content."""
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI") or ""
    record_id = (headers.get_header("WARC-Record-ID") or "").strip("<>")
    where = f"record {number} ({record_id or url or 'no id'})"
    content_type = (record.http_headers.get_header("Content-Type") if record.http_headers else "") or ""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml", "text/plain", ""):
        return None
    data = record.content_stream().read(options.max_bytes + 1)
    if len(data) > options.max_bytes:
        raise InputError("record too large (over ingest.max_bytes); skipped", path=path, record=where)
    article_id = record_id.removeprefix("urn:uuid:") or url or f"{path.stem}:{number}"
    if kind == "text/plain":
        text = decode(data, options, path, where)
        _require_text(text, path, where, what="record")
        article = text_article(text, article_id, path=path)
        article = replace(article, url=url or article.url, outlet=outlet_from_url(url) or article.outlet)
    else:
        article = html_article(data, article_id, path=path, record=where, url=url)
    # The crawl date is only a fallback: pages are usually crawled after they were published.
    return replace(article, published=article.published or headers.get_header("WARC-Date") or "")
