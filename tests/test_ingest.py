"""Ingest: every format, every error, streaming past bad records, metadata from the text."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from wiretrace.errors import InputError
from wiretrace.ingest import agencies_mentioned, extract_metadata, iter_articles, read_article
from wiretrace.models import Article
from wiretrace.options import IngestOptions

STORY = (
    "Council Approves Budget\n\n"
    "By Jane Doe\n\n"
    "PARIS (AFP) - The city council approved the budget on Tuesday after a long debate, "
    "officials said.\n\n"
    "The vote followed weeks of talks between the parties.\n"
)

PAGE = """<html><head><title>Council Approves Budget | Example Times</title>
<meta property="og:site_name" content="Example Times">
<meta property="article:published_time" content="2022-11-17T09:00:00Z">
<meta name="author" content="Jane Doe"></head>
<body><nav>Home News Sport</nav><article><h1>Council Approves Budget</h1>
<p>PARIS (AFP) - The city council approved the budget on Tuesday after a long debate that
lasted well into the night, officials said.</p>
<p>The vote followed weeks of talks between the parties, which had disagreed over spending on
schools, roads and the new public library in the centre of the city.</p>
</article><footer>All rights reserved</footer></body></html>"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def error_of(path, options=IngestOptions()) -> InputError:
    with pytest.raises(InputError) as info:
        read_article(path, options)
    return info.value


def articles_and_errors(items):
    items = list(items)
    return [x for x in items if isinstance(x, Article)], [x for x in items if isinstance(x, InputError)]


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["story.txt", "story.md", "story"])
def test_plain_text_keeps_the_text_exactly(tmp_path, name):
    text = STORY.replace("\n", "\r\n")
    article = read_article(write(tmp_path / name, text))
    assert article.text == text  # no newline translation: offsets are offsets into the file's text
    assert article.id == Path(name).stem
    assert article.title == "Council Approves Budget"
    assert article.byline == "Jane Doe"
    assert article.credits == ("AFP",)
    assert article.dateline == "PARIS (AFP) -"
    assert article.path == str(tmp_path / name)


def test_utf8_byte_order_mark_is_not_part_of_the_text(tmp_path):
    article = read_article(write(tmp_path / "bom.txt", b"\xef\xbb\xbfTitle\n\nBody text here."))
    assert article.text == "Title\n\nBody text here." and article.title == "Title"


def test_other_encodings(tmp_path):
    path = write(tmp_path / "latin.txt", "Café news\n\nThe café reopened.".encode("latin-1"))
    assert read_article(path, IngestOptions(encoding="latin-1")).title == "Café news"


def test_html_through_trafilatura(tmp_path):
    article = read_article(write(tmp_path / "page.html", PAGE))
    assert article.id == "page"
    assert article.title.startswith("Council Approves Budget")
    assert "approved the budget" in article.text and "Home News Sport" not in article.text
    assert article.outlet == "Example Times"
    assert article.published.startswith("2022-11-17")
    assert article.credits == ("AFP",)


def test_json_object_file(tmp_path):
    record = {"id": "a1", "url": "https://example.org/a1", "outlet": "Example", "published": "2022-11-17",
              "title": "Council Approves Budget", "text": "The council approved the budget."}
    article = read_article(write(tmp_path / "a.json", json.dumps(record)))
    assert (article.id, article.url, article.outlet, article.published, article.title, article.text) == (
        "a1", "https://example.org/a1", "Example", "2022-11-17", "Council Approves Budget",
        "The council approved the budget.",
    )


def test_json_field_names_are_configurable_and_id_defaults_to_the_stem(tmp_path):
    path = write(tmp_path / "b.json", json.dumps({"body": "Some text here.", "headline": "H"}))
    article = read_article(path, IngestOptions(text_field="body", title_field="headline"))
    assert (article.id, article.title, article.text) == ("b", "H", "Some text here.")


def test_jsonl_csv_and_parquet_records(tmp_path):
    records = [
        {"id": "r1", "title": "One", "text": "First article text.", "outlet": "A", "published": None},
        {"id": "r2", "title": "Two", "text": "Second article text,\nwith a newline.", "outlet": None,
         "published": "2022-01-02"},
    ]
    write(tmp_path / "in.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    import csv

    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "title", "text", "outlet", "published"])
        writer.writeheader()
        writer.writerows(records)
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    for name in ("in.jsonl", "in.csv", "in.parquet"):
        articles, errors = articles_and_errors(iter_articles(tmp_path / name))
        assert not errors, name
        assert [a.id for a in articles] == ["r1", "r2"], name
        assert articles[1].text == "Second article text,\nwith a newline.", name
        assert articles[1].published == "2022-01-02" and articles[0].outlet == "A", name


def test_csv_without_id_column_numbers_rows_by_line(tmp_path):
    write(tmp_path / "c.csv", 'title,text\nA,"Text one,\nover two lines."\nB,Text two.\n')
    articles, errors = articles_and_errors(iter_articles(tmp_path / "c.csv"))
    assert not errors and [a.id for a in articles] == ["c:2", "c:4"]


def make_warc(path: Path, records: list[tuple[str, str, bytes]], gzip: bool = False) -> Path:
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip)
        for url, content_type, body in records:
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                # A known length keeps warcio from spooling the payload to an unclosed temp file.
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
                warc_headers_dict={"WARC-Date": "2022-11-20T08:00:00Z"},
            )
            writer.write_record(record)
    return path


@pytest.mark.parametrize("name, gzip", [("crawl.warc", False), ("crawl.warc.gz", True)])
def test_warc_html_responses(tmp_path, name, gzip):
    undated = PAGE.replace('<meta property="article:published_time" content="2022-11-17T09:00:00Z">', "")
    path = make_warc(tmp_path / name, [
        ("https://www.example.org/budget", "text/html; charset=utf-8", PAGE.encode()),
        ("https://www.example.org/logo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("https://www.example.org/undated", "text/html", undated.encode()),
    ], gzip=gzip)
    articles, errors = articles_and_errors(iter_articles(path))
    assert not errors
    assert len(articles) == 2  # the image is not an article
    first, second = articles
    assert first.url == "https://www.example.org/budget"
    assert first.published.startswith("2022-11-17")  # the page's own date wins over the crawl date
    assert second.published.startswith("2022-11-20")  # the crawl date is the fallback
    assert first.id != second.id and len(first.id) >= 32  # WARC-Record-ID (a UUID)
    assert "approved the budget" in first.text


def test_warc_continues_past_a_record_without_article_text(tmp_path):
    path = make_warc(tmp_path / "mixed.warc", [
        ("https://example.org/empty", "text/html", b"<html><body></body></html>"),
        ("https://example.org/budget", "text/html", PAGE.encode()),
    ])
    articles, errors = articles_and_errors(iter_articles(path))
    assert len(articles) == 1 and len(errors) == 1
    message = str(errors[0])
    assert "mixed.warc" in message and "record 1" in message and "no article text" in message


def test_folders_are_read_recursively_sorted_skipping_hidden_and_unknown_files(tmp_path):
    write(tmp_path / "b.txt", "B title\n\nB body.")
    write(tmp_path / "a" / "z.txt", "Z title\n\nZ body.")
    write(tmp_path / "a" / "y.md", "Y title\n\nY body.")
    write(tmp_path / ".hidden.txt", "Hidden\n\nNo.")
    write(tmp_path / ".git" / "c.txt", "Hidden\n\nNo.")
    write(tmp_path / "a" / "image.png", b"\x89PNG")
    articles, errors = articles_and_errors(iter_articles(tmp_path))
    assert not errors
    assert [a.id for a in articles] == ["y", "z", "b"]


def test_stdin_is_jsonl(monkeypatch):
    lines = json.dumps({"id": "s1", "text": "From stdin."}) + "\nnot json\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    articles, errors = articles_and_errors(iter_articles("-"))
    assert [a.id for a in articles] == ["s1"]
    assert len(errors) == 1 and "<stdin>:2" in str(errors[0])


def test_iter_articles_is_lazy(tmp_path):
    path = write(tmp_path / "many.jsonl", "".join(json.dumps({"text": f"Article {i}."}) + "\n" for i in range(1000)))
    stream = iter_articles([path])
    assert next(stream).text == "Article 0."  # a generator: nothing else has been read into articles
    assert sum(1 for _ in stream) == 999


# --- errors -----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    error = error_of(tmp_path / "nope.txt")
    assert "nope.txt" in str(error) and "not found" in str(error)
    (item,) = iter_articles([tmp_path / "nope.txt"])
    assert isinstance(item, InputError) and "nope.txt" in str(item)


def test_directory_where_a_file_was_expected(tmp_path):
    (tmp_path / "folder.txt").mkdir()
    error = error_of(tmp_path / "folder.txt")
    assert "folder.txt" in str(error) and "is a directory" in str(error)


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n  "])
def test_empty_or_whitespace_file(tmp_path, content):
    error = error_of(write(tmp_path / "empty.txt", content))
    assert "empty.txt" in str(error) and "empty file" in str(error)


def test_binary_file(tmp_path):
    error = error_of(write(tmp_path / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert "photo.txt" in str(error) and "binary" in str(error) and "NUL byte at offset 8" in str(error)
    error = error_of(write(tmp_path / "noise.txt", bytes(range(1, 9)) * 50))
    assert "binary" in str(error) and "control characters" in str(error)


def test_undecodable_file_names_byte_offset_and_fix(tmp_path):
    error = error_of(write(tmp_path / "latin.txt", "Caf\xe9 news".encode("latin-1")))
    message = str(error)
    assert "latin.txt" in message and "not utf-8 text" in message
    assert "byte 0xe9 at offset 3" in message and "ingest.encoding" in message


def test_invalid_json_names_line_and_column(tmp_path):
    error = error_of(write(tmp_path / "bad.json", '{\n  "text": "a",\n  oops\n}'))
    assert "bad.json" in str(error) and "invalid JSON at line 3 column 3" in str(error)


def test_json_without_text_field(tmp_path):
    error = error_of(write(tmp_path / "notext.json", json.dumps({"id": "x", "title": "T"})))
    assert "notext.json" in str(error) and "no 'text' field" in str(error) and "ingest.text_field" in str(error)
    error = error_of(write(tmp_path / "list.json", "[1, 2]"))
    assert "list.json" in str(error) and "expected an object" in str(error)


def test_file_too_large(tmp_path):
    error = error_of(write(tmp_path / "big.txt", "x" * 2000), IngestOptions(max_bytes=1000))
    assert "big.txt" in str(error) and "too large" in str(error) and "max_bytes" in str(error)


def test_unknown_and_container_suffixes_in_read_article(tmp_path):
    assert "unknown file type '.pdf'" in str(error_of(write(tmp_path / "a.pdf", "x")))
    assert "iter_articles" in str(error_of(write(tmp_path / "a.jsonl", "{}")))


def test_jsonl_keeps_going_past_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": "ok1", "text": "Good one."}),
        "{not json",
        json.dumps({"id": "notext"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "ok2", "text": "Good two."}),
    ]
    data = ("\n".join(lines) + "\n").encode() + b'{"id": "bad", "text": "caf\xe9"}\n' + b'{"id": "ok3", "text": "Three."}\n'
    path = write(tmp_path / "feed.jsonl", data)
    items = list(iter_articles(path))
    assert [x.id if isinstance(x, Article) else type(x).__name__ for x in items] == [
        "ok1", "InputError", "InputError", "InputError", "ok2", "InputError", "ok3",
    ]
    errors = [x for x in items if isinstance(x, InputError)]
    assert [e.record for e in errors] == [2, 3, 4, 6]
    assert str(errors[0]).startswith(f"{path}:2: invalid JSON at column 2")
    assert "no 'text' field" in str(errors[1]) and "not utf-8 text" in str(errors[3])


def test_csv_without_text_column_and_row_without_text(tmp_path):
    (item,) = iter_articles(write(tmp_path / "cols.csv", "id,body\n1,Hello.\n"))
    assert isinstance(item, InputError) and "no 'text' column" in str(item) and "cols.csv" in str(item)
    articles, errors = articles_and_errors(iter_articles(write(tmp_path / "rows.csv", "id,text\n1,Hello.\n2,\n3,Bye.\n")))
    assert [a.id for a in articles] == ["1", "3"]
    assert len(errors) == 1 and "rows.csv:3" in str(errors[0])


def test_unreadable_parquet_and_warc(tmp_path):
    (item,) = iter_articles(write(tmp_path / "x.parquet", b"not parquet at all"))
    assert isinstance(item, InputError) and "x.parquet" in str(item) and "Parquet" in str(item)
    items = list(iter_articles(write(tmp_path / "x.warc", b"this is not a warc file\r\n\r\n")))
    assert items and all(isinstance(x, InputError) for x in items) and "x.warc" in str(items[0])


def test_errors_in_a_folder_do_not_stop_the_batch(tmp_path):
    write(tmp_path / "1.txt", "One\n\nBody one.")
    write(tmp_path / "2.txt", b"")
    write(tmp_path / "3.json", "{bad")
    write(tmp_path / "4.txt", "Four\n\nBody four.")
    articles, errors = articles_and_errors(iter_articles(tmp_path))
    assert [a.id for a in articles] == ["1", "4"] and len(errors) == 2


# --- metadata from the text -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Headline\n\nBy AFP\n\nBody.", {"byline": "AFP", "credits": ("AFP",)}),
        ("Headline\n\nBy [Reuters](https://example.org)\n\nBody.", {"byline": "Reuters", "credits": ("Reuters",)}),
        ("Headline\n\nBy Jane Doe\n\nBody.", {"byline": "Jane Doe"}),
        ("Headline\n\nBY JANE DOE AND AP\n\nBody.", {"byline": "JANE DOE AND AP", "credits": ("AP",)}),
        ("Headline\n\nPARIS (AFP) - Something happened.", {"dateline": "PARIS (AFP) -", "credits": ("AFP",)}),
        ("Headline\n\n(Reuters) - Something happened.", {"dateline": "(Reuters) -", "credits": ("Reuters",)}),
        ("WASHINGTON, Nov 3 (Reuters) - Something.", {"dateline": "WASHINGTON, Nov 3 (Reuters) -", "credits": ("Reuters",)}),
        ("NEW DELHI (PTI) — Something.", {"dateline": "NEW DELHI (PTI) —", "credits": ("PTI",)}),
        ("ISLAMABAD, Dec 1 (APP): Something.", {"dateline": "ISLAMABAD, Dec 1 (APP):", "credits": ("APP",)}),
        ("BERLIN (dpa/AFP) - Something.", {"dateline": "BERLIN (dpa/AFP) -", "credits": ("DPA", "AFP")}),
        ("Headline\n\nSomething happened today.\n\n— AP", {"credits": ("AP",)}),
        ("Headline\n\nNovember 17, 2022\n\nBody.", {"published": "2022-11-17"}),
        ("Headline\n\n17 November 2022\n\nBody.", {"published": "2022-11-17"}),
        ("Headline\n\n2022-11-17\n\nBody.", {"published": "2022-11-17"}),
        ("Headline\n\nThursday, Nov. 17, 2022 10:30 AM\n\nBody.", {"published": "2022-11-17"}),
        ("Headline\n\nPublished: 3rd March 2021\n\nBody.", {"published": "2021-03-03"}),
        (
            "Headline\n\nBody.\n\nOriginal url:\n\n<https://www.example-news.com/2022/11/17/story-a1>",
            {"url": "https://www.example-news.com/2022/11/17/story-a1", "outlet": "example-news.com"},
        ),
        ("Headline\n\nBody.\n\nSource: https://news.example.org/a?b=1", {"url": "https://news.example.org/a?b=1", "outlet": "news.example.org"}),
        # Interview mentions and dates inside sentences are not metadata.
        ('Headline\n\n"It is a farce," a voter told AFP.\n\nThe vote is on November 20, 2022.', {}),
        ("Headline\n\nBody.\n\nBy the end of the day, AFP and Reuters had left.", {}),
        ("Headline\n\nBy Monday, all roads had reopened.", {}),
        ("Headline\n\nBy Jane Doe and John Roe in Paris\n\nBody.", {"byline": "Jane Doe and John Roe in Paris"}),
        # Header lines of fields.
        ("Headline\nBy Jane Doe | Reuters | March 12, 2024\n\nBody.",
         {"byline": "Jane Doe", "credits": ("Reuters",), "published": "2024-03-12"}),
        ("Headline\nThe Daily Example · Business · Tuesday, 12 March 2024, 14:05\n\nBody.",
         {"outlet": "The Daily Example", "published": "2024-03-12"}),
        ("Headline\nPosted on 13 March 2024 by newsdesk\n\nBody.", {"byline": "newsdesk", "published": "2024-03-13"}),
        ("Headline\nCity Herald | 25/03/2024\n\nBody.", {"outlet": "City Herald", "published": "2024-03-25"}),
        ("Headline\nCity Herald | 12/03/2024\n\nBody.", {"outlet": "City Herald"}),  # day or month?
        ("Headline\nPrices rose | markets fell\n\nBody.", {}),
    ],
)
def test_extract_metadata(text, expected):
    assert extract_metadata(text) == expected


def test_metadata_only_from_the_top():
    filler = "".join(f"Paragraph {i} of the story.\n\n" for i in range(12))
    assert extract_metadata("Headline\n\n" + filler + "By AFP\n\nNovember 17, 2022\n\nPARIS (AFP) - X.") == {}


def test_agencies_mentioned_anywhere_on_word_boundaries():
    text = (
        '"It is a farce," he told AFP. The Associated Press and reuters reported it, '
        "citing Xinhua and the Press Trust of India. APPLE and AP-style and ap are not agencies."
    )
    assert agencies_mentioned(text) == ("AFP", "AP", "Reuters", "Xinhua", "PTI")
    assert agencies_mentioned("Associated Press of Pakistan (APP) and dpa") == ("APP", "DPA")
    assert agencies_mentioned("کراچی (اے پی پی) بارش") == ("APP",)
    assert agencies_mentioned("Nothing here at all.") == ()
