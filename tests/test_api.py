from pathlib import Path

import wiretrace


def test_public_api_is_what_all_says():
    assert sorted(wiretrace.__all__) == sorted(
        [
            "Alignment", "Article", "ChangedFact", "Comparison", "ConfigError", "Direction", "Document",
            "InputError", "Labelled", "Match", "MissingExtraError", "NotFoundError", "Options", "Sentence",
            "Store", "StoreError", "Verdict", "WiretraceError", "__version__", "add", "compare", "embed", "export",
            "load_options", "read", "scan", "show", "sources", "stories",
        ]
    )
    for name in wiretrace.__all__:
        assert hasattr(wiretrace, name), name


def test_compare_to_dict_is_the_json_contract():
    r = wiretrace.compare("wiretrace/examples/light_edit.txt", "wiretrace/examples/wire_original.txt")
    data = r.to_dict()
    assert {"derived", "source", "verdict", "derived_share", "source_share", "direction", "credited", "sentences"} <= set(data)
    assert set(data["direction"]) == {"original", "confidence", "evidence"}
    texts = {"light_edit": r.derived.article.text, "wire_original": r.source.article.text}
    for s in data["sentences"]:
        assert texts[s["article"]][s["start"] : s["end"]] == s["text"]
        assert s["role"] in {"body", "title", "boilerplate"}
        assert s["label"] in {None, "verbatim", "edited", "paraphrase", "new", "used", "omitted"}


def test_an_article_compared_with_itself_keeps_two_ids():
    r = wiretrace.compare("wiretrace/examples/wire_original.txt", "wiretrace/examples/wire_original.txt")
    assert r.derived.article.id != r.source.article.id
    assert r.verdict.verdict == "wholly derived"


def test_the_order_of_the_two_articles_changes_nothing():
    pairs = [("heavy_paraphrase", "wire_original"), ("light_edit", "wire_original")]
    for a, b in pairs:
        pa, pb = (f"wiretrace/examples/{n}.txt" for n in (a, b))
        forward, backward = wiretrace.compare(pa, pb).to_dict(), wiretrace.compare(pb, pa).to_dict()
        assert forward == backward, f"{a} vs {b}: the result depends on which file comes first"


def test_corpus_verbs_through_the_public_api(tmp_path):
    options = wiretrace.load_options(env={}, overrides={"fingerprint": {"model": "none"}})
    with wiretrace.Store(tmp_path / "news.db") as store:
        report = wiretrace.add(sorted(Path("wiretrace/examples").glob("*.txt")), store, options)
        assert report.added == 6 and report.failed == 0
        found = {c.source.article.id: c.verdict for c in wiretrace.sources("light_edit", store, options)}
        assert found["wire_original"].verdict == "wholly derived"  # so is its verbatim reprint, tied
        assert "independent" not in found and "light_edit" not in found
        scanned = wiretrace.scan(store, options)
        assert scanned.to_dict()
        assert wiretrace.export(store, "pairs", "jsonl", tmp_path / "pairs.jsonl") >= 3
