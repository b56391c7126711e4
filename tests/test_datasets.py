"""The evaluation-set readers, on tiny files that copy each set's layout and quirks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wiretrace.datasets import basil_events, load_basil, load_counter, load_msrp, load_stsb
from wiretrace.errors import InputError


def _counter_xml(classification: str, headline: str, body: str, date: str = "01.12.14",
                 root: str = "COUNTER_document") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<{root} classification="{classification}" newsdate="{date}" newspaper="APP">\n'
        f"<headline>{headline}</headline>\n<body>{body}</body>\n</{root}>\n"
    )


@pytest.fixture
def counter_dir(tmp_path: Path) -> Path:
    # The source file's own classification is not the gold label: the derived file's is.
    (tmp_path / "0001.xml").write_text(_counter_xml("ND", "خبر", "پہلا جملہ۔ دوسرا جملہ۔"), "utf-8")
    (tmp_path / "0001p.xml").write_text(_counter_xml("WD", "سرخی", "پہلا جملہ۔", "02.12.14"), "utf-8")
    (tmp_path / "0032.xml").write_text(_counter_xml("PD", "a", "b"), "utf-8")
    (tmp_path / "0032P.xml").write_text(_counter_xml("PD", "c", "d", root="COUNTER_DOCUMENT"), "utf-8")
    (tmp_path / "notes.txt").write_text("not part of the set", "utf-8")
    return tmp_path


def test_counter_pairs_labels_dates_and_odd_names(counter_dir: Path):
    pairs = load_counter(counter_dir)
    assert [p.id for p in pairs] == ["0001", "0032"]
    first = pairs[0]
    assert first.label == "wholly derived"
    assert (first.source.id, first.derived.id) == ("0001", "0001p")
    assert first.derived.text == "سرخی\n\nپہلا جملہ۔"  # headline on its own line, then the body
    assert first.derived.title == "سرخی"
    assert (first.source.published, first.derived.published) == ("2014-12-01", "2014-12-02")
    assert first.derived.outlet == "APP" and first.derived.language == "ur"
    assert pairs[1].derived.id == "0032P" and pairs[1].label == "partially derived"


def test_counter_missing_partner_names_the_file(counter_dir: Path):
    (counter_dir / "0001p.xml").unlink()
    with pytest.raises(InputError, match=r"0001\.xml: its pair file 0001p\.xml is missing"):
        load_counter(counter_dir)


def test_counter_bad_label_names_the_derived_file(counter_dir: Path):
    (counter_dir / "0001p.xml").write_text(_counter_xml("XX", "h", "b"), "utf-8")
    with pytest.raises(InputError, match=r'0001p\.xml: classification="XX".*WD, PD, ND'):
        load_counter(counter_dir)


def test_counter_malformed_xml_names_file_and_line(counter_dir: Path):
    (counter_dir / "0032P.xml").write_text('<?xml version="1.0"?>\n<COUNTER_document>\n<body>x</headline>', "utf-8")
    with pytest.raises(InputError, match=r"0032P\.xml:3: not well-formed XML"):
        load_counter(counter_dir)


def test_counter_missing_body_names_the_rule(counter_dir: Path):
    (counter_dir / "0032P.xml").write_text("<COUNTER_document><headline>h</headline></COUNTER_document>", "utf-8")
    with pytest.raises(InputError, match=r"0032P\.xml: no <body> element; expected COUNTER XML"):
        load_counter(counter_dir)


def test_counter_empty_folder(tmp_path: Path):
    with pytest.raises(InputError, match="expected a COUNTER folder"):
        load_counter(tmp_path)


def test_msrp_bom_and_quotes(tmp_path: Path):
    lines = [
        '1\t702876\t702977\tAmrozi called him "the witness".\tReferring to him as "the witness", he said so.',
        '0\t1\t2\tAn "opening quote with\tno closing one.',  # csv's default quoting would eat the tab
        "",
    ]
    (tmp_path / "msr_paraphrase_train.txt").write_text("\ufeff" + "\n".join(lines), "utf-8")
    pairs = load_msrp(tmp_path)
    assert [p.id for p in pairs] == ["702876-702977", "1-2"]
    assert pairs[0].id1 == "702876"  # the BOM is not part of the first field
    assert pairs[0].s1 == 'Amrozi called him "the witness".'
    assert pairs[0].paraphrase and not pairs[1].paraphrase
    assert pairs[1].s1 == 'An "opening quote with' and pairs[1].line == 2


def test_msrp_wrong_field_count_names_file_and_line(tmp_path: Path):
    (tmp_path / "msr_paraphrase_train.txt").write_text("1\t1\t2\ta\tb\n1\t1\t2\tonly one sentence\n", "utf-8")
    with pytest.raises(InputError, match=r"msr_paraphrase_train\.txt:2: 4 tab-separated fields; expected 5"):
        load_msrp(tmp_path)


def test_msrp_bad_quality(tmp_path: Path):
    (tmp_path / "msr_paraphrase_test.txt").write_text("yes\t1\t2\ta\tb\n", "utf-8")
    with pytest.raises(InputError, match=r"msr_paraphrase_test\.txt:1: quality 'yes'"):
        load_msrp(tmp_path)


def test_stsb_extra_fields_genre_and_line_numbers(tmp_path: Path):
    train = [
        "main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane takes off.\tA plane is taking off.",
        "main-news\theadlines\t2013\t0002\t3.8\tObama visits Paris\tObama in Paris\tsource-a\tsource-b",
        'main-news\tMSRpar\t2012\t0003\t0\tHe said "no.\tShe said yes.',
    ]
    (tmp_path / "sts-train.csv").write_text("\n".join(train), "utf-8")  # no final newline
    (tmp_path / "sts-dev.csv").write_text("main-news\tMSRpar\t2012\t0009\t2.5\tx y\tx z\n", "utf-8")
    (tmp_path / "readme.txt").write_text("not data", "utf-8")
    news = load_stsb(tmp_path)
    assert [(p.file, p.line, p.id) for p in news] == [
        ("sts-dev.csv", 1, "0009"), ("sts-train.csv", 2, "0002"), ("sts-train.csv", 3, "0003")]
    extra = news[1]
    assert (extra.s1, extra.s2, extra.score) == ("Obama visits Paris", "Obama in Paris", 3.8)
    assert news[2].s1 == 'He said "no.'
    assert len(load_stsb(tmp_path, genre=None)) == 4


@pytest.mark.parametrize("row, rule", [
    ("main-news\tMSRpar\t2012\t1\t2.0\tonly one", "6 tab-separated fields; expected 7"),
    ("main-news\tMSRpar\t2012\t1\thigh\ta\tb", "score 'high'; expected a number from 0 to 5"),
    ("main-news\tMSRpar\t2012\t1\t7\ta\tb", "score '7'"),
])
def test_stsb_malformed_rows_name_file_and_line(tmp_path: Path, row: str, rule: str):
    (tmp_path / "sts-test.csv").write_text(f"main-news\tMSRpar\t2012\t0\t1\ta\tb\n{row}\n", "utf-8")
    with pytest.raises(InputError, match=rf"sts-test\.csv:2: {rule}"):
        load_stsb(tmp_path)


def _basil(path: Path, source: str, event: str, paragraphs: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"title": f"Title by {source}", "date": "2010-07-02", "source": source, "url": "http://x",
            "main-event": "Event", "triplet-uuid": event, "body-paragraphs": paragraphs}
    path.write_text(json.dumps(data), "utf-8")


def test_basil_list_and_literal_string_paragraphs(tmp_path: Path):
    year = tmp_path / "articles" / "2010"
    _basil(year / "e1_1.json", "NYT", "e1", [["First sentence.", "Second."], ["Next paragraph."]])
    _basil(year / "e1_2.json", "fox", "e1", "[['Fox’s \"first\" line.'], [\"It's quoted.\"]]")
    _basil(year / "e1_3.json", "Hpo", "e1", [])
    _basil(tmp_path / "articles" / "2011" / "e2_1.json", "nyt", "e2", [["Other event."]])
    articles = load_basil(tmp_path)
    by_id = {a.article.id: a for a in articles}
    assert by_id["e1_1"].source == "nyt" and by_id["e1_3"].source == "hpo"
    assert by_id["e1_1"].article.text == "Title by NYT\n\nFirst sentence. Second.\n\nNext paragraph."
    assert by_id["e1_2"].article.text == "Title by fox\n\nFox’s \"first\" line.\n\nIt's quoted."
    events = basil_events(articles)
    assert [a.article.id for a in events["e1"]] == ["e1_1", "e1_2", "e1_3"]
    assert [a.article.id for a in events["e2"]] == ["e2_1"]


@pytest.mark.parametrize("content, rule", [
    ('{"title": "t", "source": "nyt", "triplet-uuid": "e",', "not valid JSON"),
    ('{"title": "t", "source": "cnn", "triplet-uuid": "e", "body-paragraphs": []}', "source 'cnn'; expected fox, nyt or hpo"),
    ('{"title": "t", "source": "nyt", "triplet-uuid": "e"}', 'no "body-paragraphs" field'),
    ('{"title": "t", "source": "nyt", "triplet-uuid": "e", "body-paragraphs": "[[\'unclosed\']"}',
     "is a string but not a Python list literal"),
    ('{"title": "t", "source": "nyt", "triplet-uuid": "e", "body-paragraphs": [[1, 2]]}',
     "paragraph 1 holds something other than text"),
])
def test_basil_malformed_records_name_the_file(tmp_path: Path, content: str, rule: str):
    (tmp_path / "bad_1.json").write_text(content, "utf-8")
    with pytest.raises(InputError, match=rf"bad_1\.json.*{rule}"):
        load_basil(tmp_path)


def test_readers_refuse_a_missing_folder(tmp_path: Path):
    for reader in (load_counter, load_msrp, load_stsb, load_basil):
        with pytest.raises(InputError, match="not a folder"):
            reader(tmp_path / "absent")
