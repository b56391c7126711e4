import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from wiretrace import report

CONTRACT = {"derived", "source", "verdict", "derived_share", "source_share", "direction", "credited", "sentences"}
# Keys the contract allows beyond PRODUCT.md's list: credit and fact evidence, quotation flags,
# the boilerplate rule and the matched word spans.
EXTRAS = {"credit_evidence", "shared_quotations", "changed_facts"}
SENTENCE = {"article", "index", "start", "end", "text", "role", "label", "matches"}
SENTENCE_EXTRAS = {"quotation", "rule"}
MATCH = {"index", "lexical", "semantic"}


def terminal(comparison, **console_args) -> str:
    console = Console(record=True, width=100, **console_args)
    report.render_terminal(comparison, console)
    return console.export_text()


# -- terminal -----------------------------------------------------------------------------------


def test_terminal_puts_verdict_and_evidence_on_top(make_comparison):
    out = terminal(make_comparison())
    head = out[: out.index("sentence by sentence")]
    for expected in ("partially derived", "62% of the derived body", "71% of the source body",
                     "S (wire-1), confidence 0.90", 'dateline "PORTO VALE (Wirepress) -" in wire-1',
                     "credited", "blog-7 names no agency or outlet",
                     'D2 vs S2 number: "twelve" in D, "ten" in S'):
        assert expected in head, expected
    assert re.search(r"credited\s+no\b", head)


def test_terminal_labels_each_derived_sentence_with_its_counterparts(make_comparison):
    lines = terminal(make_comparison()).splitlines()

    def line(prefix):
        return next(x for x in lines if x.strip().startswith(prefix))

    assert "title" in line("D0")
    assert "verbatim" in line("D1") and "→ S1 lex 1.00 sem 1.00" in line("D1")
    assert "edited" in line("D2") and "→ S2 lex 0.82 sem 0.95" in line("D2")
    assert "paraphrase" in line("D3") and "→ S3 lex 0.21 sem 0.81" in line("D3")
    assert "→ S4 lex 0.25 sem 0.77" in lines[lines.index(line("D3")) + 1]  # the merge's second source
    assert "new" in line("D4") and "→" not in line("D4")
    assert "boilerplate" in line("D5")


def test_terminal_lists_omitted_source_sentences_and_counts_used(make_comparison):
    out = terminal(make_comparison())
    tail = out[out.index("Source article S"):]
    assert "4 of 5 body sentences used, 1 omitted" in tail
    assert "used: S1 S2 S3 S4" in tail
    assert re.search(r"S5\s+omitted\s+\"We have never seen waves", tail)


def test_terminal_fits_100_columns_and_has_no_colour_when_piped(make_comparison):
    buffer = io.StringIO()
    report.render_terminal(make_comparison(), Console(file=buffer, width=100))
    out = buffer.getvalue()
    assert "\x1b[" not in out
    assert max(len(x) for x in out.splitlines()) <= 100
    assert "paraphrase" in out


def test_terminal_prints_article_text_literally(make_comparison):
    out = terminal(make_comparison(replace={"Nobody seems": "[bold red]Nobody[/] seems"}))
    assert "[bold red]Nobody[/] seems" in out


# -- JSON ---------------------------------------------------------------------------------------


def test_json_has_the_contract_keys(make_comparison):
    data = json.loads(report.to_json(make_comparison()))
    assert set(data) == CONTRACT | EXTRAS
    assert {"id", "title", "outlet", "published"} <= set(data["derived"]) == set(data["source"])
    assert set(data["direction"]) == {"original", "confidence", "evidence"}
    assert data["verdict"] == "partially derived" and data["credited"] is False
    assert len(data["sentences"]) == 6 + 7
    for s in data["sentences"]:
        assert SENTENCE <= set(s) <= SENTENCE | SENTENCE_EXTRAS
        assert s["role"] in {"body", "title", "boilerplate"}
        assert s["label"] in {"verbatim", "edited", "paraphrase", "new", "used", "omitted", None}
        for m in s["matches"]:
            assert MATCH <= set(m) <= MATCH | {"spans"}


def test_json_keeps_non_ascii_text(make_comparison):
    text = report.to_json(make_comparison(replace={"Nobody": "Ninguém"}))
    assert "Ninguém" in text and "\\u" not in text
    assert text.startswith('{\n  "derived"')  # indent 2


def test_json_offsets_point_into_the_article_text(make_comparison):
    comparison = make_comparison(replace={"Some 3,000": "Some\u00a03\u202f000 çà"})
    texts = {d.article.id: d.article.text for d in (comparison.derived, comparison.source)}
    for s in json.loads(report.to_json(comparison))["sentences"]:
        assert texts[s["article"]][s["start"]:s["end"]] == s["text"]


# -- HTML ---------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The ids, links, network references and sentence classes of a rendered page."""

    def __init__(self, html: str):
        super().__init__()
        self.ids, self.links, self.hrefs, self.srcs, self.classes = set(), {}, [], [], {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
            self.classes[attrs["id"]] = set((attrs.get("class") or "").split())
        if "data-links" in attrs:
            self.links[attrs["id"]] = attrs["data-links"].split()
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if "src" in attrs:
            self.srcs.append(attrs["src"])


def test_html_escapes_article_text(make_comparison):
    page = report.render_html(make_comparison(replace={
        "Nobody seems": "<script>alert('x')</script> Nobody seems",
        "Storm shuts": '<img src=x onerror="alert(1)"> Storm shuts',
    }))
    assert page.count("<script") == 1  # the page's own script only
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Nobody seems" in page
    assert "<img" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_html_is_self_contained(make_comparison):
    page = report.render_html(make_comparison())
    parsed = Page(page)
    assert "http://" not in page and "https://" not in page
    assert parsed.srcs == []
    assert all(h.startswith("#") for h in parsed.hrefs) and parsed.hrefs
    assert "@import" not in page and "url(" not in page
    assert "<style>" in page and "<script>" in page


def test_html_links_every_reused_sentence_to_existing_counterparts(make_comparison):
    parsed = Page(report.render_html(make_comparison()))
    assert parsed.links == {
        "D1": ["S1"], "D2": ["S2"], "D3": ["S3", "S4"],
        "S1": ["D1"], "S2": ["D2"], "S3": ["D3"], "S4": ["D3"],
    }
    for sid, targets in parsed.links.items():
        for target in targets:
            assert target in parsed.ids and sid in parsed.links[target]
    assert all(h[1:] in parsed.ids for h in parsed.hrefs)


def test_html_drops_links_to_sentences_that_do_not_exist(make_comparison):
    from dataclasses import replace

    from wiretrace.models import Match

    comparison = make_comparison()
    derived = list(comparison.alignment.derived)
    derived[4] = replace(derived[4], matches=(Match(99, 0.5, 0.5),))
    comparison = replace(comparison, alignment=replace(comparison.alignment, derived=tuple(derived)))
    parsed = Page(report.render_html(comparison))
    assert "D4" not in parsed.links


def test_html_colours_sentences_by_label_and_role(make_comparison):
    classes = Page(report.render_html(make_comparison())).classes
    expected = {"D1": "verbatim", "D2": "edited", "D3": "paraphrase", "D4": "new", "S1": "used",
                "S5": "omitted", "D0": "title", "D5": "boilerplate", "S6": "boilerplate"}
    for sid, label in expected.items():
        assert label in classes[sid], sid
    css = (report.TEMPLATES / "pair.css").read_text()
    for label in ("verbatim", "edited", "paraphrase", "new", "used", "omitted", "title", "boilerplate"):
        assert f".wt-sent.{label}" in css


def test_html_marks_matched_words(make_comparison):
    page = report.render_html(make_comparison())
    d3 = page[page.index('id="D3"'):page.index('id="D4"')]
    assert "Some <mark>3,000</mark> daily <mark>commuters</mark> will ride <mark>replacement buses from " \
           "Tuesday</mark>." in d3


def test_html_puts_derived_left_and_shows_the_verdict_box(make_comparison):
    page = report.render_html(make_comparison())
    assert page.index('class="wt-col wt-derived"') < page.index('class="wt-col wt-source"')
    box = page[page.index('class="wt-verdict'):page.index('class="wt-legend"')]
    for expected in ("partially derived", "62%", "71%", "S · wire-1", "confidence 0.90",
                     "a day before blog-7", "wt-no", 'href="#D2"', "twelve", "ten"):
        assert expected in box, expected


@pytest.mark.parametrize(("text", "spans", "pieces"), [
    ("abcdef", [], [("abcdef", False)]),
    ("abcdef", [(10, 12)], [("ab", True), ("cdef", False)]),  # article offsets, sentence at 10
    ("abcdef", [(13, 16), (11, 12), (12, 14)], [("a", False), ("bcdef", True)]),  # overlap, clip
    ("abcdef", [(0, 5), (16, 30)], [("abcdef", False)]),  # wholly outside
    ("", [], [("", False)]),
])
def test_segments_cut_a_sentence_at_its_matched_spans(text, spans, pieces):
    got = report._segments(text, 10, spans)
    assert [(p["text"], p["mark"]) for p in got] == pieces
    assert "".join(p["text"] for p in got) == text


def test_pair_context_is_plain_data(make_comparison):
    context = report.pair_context(make_comparison())
    json.dumps(context)  # the web app can ship it as JSON too
    derived, source = context["columns"]
    assert (derived["side"], source["side"]) == ("derived", "source")
    assert [s["id"] for p in source["paragraphs"] for s in p] == [f"S{i}" for i in range(7)]


def test_write_html_replaces_the_file_atomically(make_comparison, tmp_path, monkeypatch):
    path = tmp_path / "reports" / "pair.html"
    assert report.write_html(make_comparison(), path) == path
    assert Page(path.read_text(encoding="utf-8")).links
    monkeypatch.setattr(report, "render_html", lambda c: "new page")
    report.write_html(make_comparison(), path)
    assert path.read_text(encoding="utf-8") == "new page"

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        report.write_html(make_comparison(), path)
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == "new page"
    assert [p.name for p in path.parent.iterdir()] == ["pair.html"]


# -- summary ------------------------------------------------------------------------------------


def test_summary_names_each_pair_with_verdict_and_original(make_comparison):
    console = Console(record=True, width=100)
    report.render_summary([("heavy", make_comparison()), ("reprint", make_comparison(credited=True,
                                                                                     verdict="wholly derived"))],
                          console)
    lines = console.export_text().splitlines()
    heavy = next(x for x in lines if x.strip().startswith("heavy"))
    reprint = next(x for x in lines if x.strip().startswith("reprint"))
    assert re.search(r"partially derived\s+62%\s+wire-1\s+no\s+1$", heavy)
    assert re.search(r"wholly derived .* yes", reprint)


# -- in a browser -------------------------------------------------------------------------------

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
                 if Path(p).exists()), None)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium to drive")
def test_html_highlights_counterparts_and_scrolls_the_other_column(make_comparison, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    path = report.write_html(make_comparison(), tmp_path / "pair.html")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 300})
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(path.as_uri())

        def highlighted():
            return sorted(page.eval_on_selector_all(".wt-hl", "els => els.map(e => e.id)"))

        page.hover("#D3")
        assert highlighted() == ["D3", "S3", "S4"]
        page.wait_for_function("document.querySelector('.wt-source .wt-pane').scrollTop > 0")
        page.click("#D2")  # pinned: hovering elsewhere keeps it
        page.hover("#D1")
        assert highlighted() == ["D2", "S2"]
        page.click("#D2")
        assert highlighted() == []
        page.click("a.wt-ref[href='#S2']")
        assert highlighted() == ["D2", "S2"]
        browser.close()
    assert errors == []


def test_article_name_is_the_file_name_for_files_of_one_article_and_the_id_for_records():
    from wiretrace.models import Article
    from wiretrace.report import article_name

    assert article_name(Article(id="x1", text="T\n\nBody.", path="news/wire story.txt")) == "wire story"
    assert article_name(Article(id="rec-7", text="T\n\nBody.", path="crawl/day.jsonl")) == "rec-7"
    assert article_name(Article(id="rec-8", text="T\n\nBody.", path="crawl/day.warc.gz")) == "rec-8"
    assert article_name(Article(id="rec-9", text="T\n\nBody.")) == "rec-9"
