"""add -> scan -> families and stories on the bundled examples; a rerun does only new work."""

from dataclasses import replace
from pathlib import Path

import pytest

from wiretrace import api
from wiretrace.cluster import family_rows, reuse_families
from wiretrace.corpus import scan
from wiretrace.options import load_options
from wiretrace.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "wiretrace" / "examples"
COPIES = ["wire_original", "verbatim_reprint", "light_edit", "changed_facts"]
OTHERS = ["independent", "heavy_paraphrase"]
LEXICAL = load_options(env={}, overrides={"fingerprint": {"model": "none"}, "scan": {"workers": 1}})


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    db = tmp_path_factory.mktemp("corpus") / "s.db"
    with Store(db) as store:
        added = api.add([EXAMPLES / f"{name}.txt" for name in COPIES + OTHERS], store, LEXICAL)
        first = scan(store, LEXICAL, workers=1)
        second = scan(store, LEXICAL, workers=1)
    return db, added, first, second


def copy_with_late(db, tmp_path, late: str, example: str) -> tuple[Path, Path]:
    """A copy of the scanned store, and a new article file `late` holding an example's text."""
    copy = tmp_path / "s.db"
    copy.write_bytes(Path(db).read_bytes())
    path = tmp_path / f"{late}.txt"
    path.write_text((EXAMPLES / f"{example}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    return copy, path


def families_built_afresh(store) -> list[tuple]:
    """(parent, child, family, primary) of every edge of the families built from all stored pairs."""
    return sorted((p, c, d["family"], d["primary"])
                  for p, c, d in family_rows(reuse_families(store.iter_pair_summaries(), LEXICAL)))


def families_stored(store) -> list[tuple]:
    return sorted((p, c, d["family"], d["primary"]) for _, p, c, d in store.iter_families())


def test_add_stores_every_example(scanned):
    db, added, _, _ = scanned
    assert (added.added, added.unchanged, added.failed) == (6, 0, 0)
    with Store(db, readonly=True) as store:
        assert sorted(store.ids()) == sorted(COPIES + OTHERS)


def test_scan_finds_the_copies_as_one_family_rooted_at_the_wire_story(scanned):
    db, _, first, _ = scanned
    assert first.scanned == 6 and first.pairs_found >= 3 and not first.errors
    family = first.families[0]
    assert family.root == "wire_original" and set(family.members) == set(COPIES)
    with Store(db, readonly=True) as store:
        for name in COPIES[1:]:
            assert store.family_of(name)["family"] == "wire_original"
        assert store.family_of("independent") is None


def test_stories_put_the_copies_together(scanned):
    db, *_ = scanned
    with Store(db, readonly=True) as store:
        assert len({store.story_of(name) for name in COPIES}) == 1
        assert all(store.story_of(name) for name in COPIES + OTHERS)


def test_a_second_scan_does_no_new_work(scanned):
    _, _, first, second = scanned
    assert (second.scanned, second.skipped, second.compared, second.pairs_found) == (0, 6, 0, 0)
    assert [(f.id, f.members, f.depth) for f in second.families] == [(f.id, f.members, f.depth) for f in first.families]
    def tree(families):
        return [[(e.parent, e.child, e.primary, round(e.derived_share, 3)) for e in f.edges] for f in families]

    assert tree(second.families) == tree(first.families)  # the saved families, not rebuilt


def test_a_scan_after_add_compares_only_the_new_article(scanned, tmp_path):
    copy, late = copy_with_late(scanned[0], tmp_path, "late_reprint", "verbatim_reprint")
    with Store(copy) as store:
        assert api.add([late], store, LEXICAL).added == 1
        report = scan(store, LEXICAL, workers=1)
        assert report.scanned == 1 and report.skipped == 6 and report.pairs_found >= 1
        assert store.family_of("late_reprint")["family"] == "wire_original"
        # The stored families are what building them all from the stored pairs gives.
        afresh = families_built_afresh(store)
        assert families_stored(store) == afresh
        assert {f.id for f in report.families} == {row[2] for row in afresh}


def test_a_scan_after_add_builds_again_only_the_families_its_articles_are_linked_to(scanned, tmp_path, monkeypatch):
    from wiretrace import corpus

    copy, late = copy_with_late(scanned[0], tmp_path, "late_independent", "independent")
    built = []
    monkeypatch.setattr(corpus, "reuse_families", lambda pairs, options: built.append(list(pairs)) or
                        reuse_families(built[-1], options))
    with Store(copy) as store:
        before = _families(store)
        api.add([late], store, LEXICAL)
        scan(store, LEXICAL, workers=1)
        assert {p.derived for p in built[-1]} | {p.source for p in built[-1]} == {"independent", "late_independent"}
        after = _families(store)
        assert after["wire_original"] == before["wire_original"]  # not built again, and unchanged
        assert ["independent", "late_independent"] in after.values()
        assert families_stored(store) == families_built_afresh(store)


def _families(store) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for family, parent, child, _ in store.iter_families():
        out.setdefault(family, set()).update((parent, child))
    return {f: sorted(m) for f, m in out.items()}


def test_new_family_or_story_settings_rebuild_what_they_change(scanned, tmp_path):
    db, _, first, _ = scanned
    copy = tmp_path / "f.db"
    copy.write_bytes(Path(db).read_bytes())
    strict = replace(LEXICAL, cluster=replace(LEXICAL.cluster, min_share=0.99, topic_threshold=0.0, story_threshold=0.99))
    with Store(copy) as store:
        report = scan(store, strict, workers=1)  # nothing new to compare
        assert report.compared == 0 and [f.id for f in report.families] == []
        assert report.stories > first.stories


def test_a_scan_after_add_places_the_new_articles_into_the_stored_stories(scanned, tmp_path):
    db, *_ = scanned
    copy, late = copy_with_late(db, tmp_path, "late_reprint", "light_edit")
    placing = replace(LEXICAL, cluster=replace(LEXICAL.cluster, place_share=0.5))
    with Store(copy) as store:
        before = store.story_assignments()
        api.add([late], store, placing)
        report = scan(store, placing, workers=1)
        assert report.placed == 1
        after = store.story_assignments()
        assert {k: after[k] for k in before} == before  # the stored stories stay as they were
        assert after["late_reprint"] == after["light_edit"]
    again = tmp_path / "again.db"
    again.write_bytes(Path(db).read_bytes())
    with Store(again) as store:  # more new articles than place_share of the store: all clustered again
        api.add([late], store, LEXICAL)
        assert scan(store, LEXICAL, workers=1).placed == 0
        assert store.story_of("late_reprint") == store.story_of("light_edit")


def test_a_scan_under_new_settings_does_not_align_the_stored_pairs_again(scanned, tmp_path):
    db, _, first, _ = scanned
    copy = tmp_path / "r.db"
    copy.write_bytes(Path(db).read_bytes())
    changed = replace(LEXICAL, attribute=replace(LEXICAL.attribute, min_copies=LEXICAL.attribute.min_copies + 1))
    with Store(copy) as store:
        again = scan(store, changed, workers=1)
    # Every article is scanned again (the settings changed), but of the same candidates only the
    # pairs not already stored are aligned.
    assert again.scanned == 6 and again.compared == first.compared - first.pairs_found


def test_sources_ranks_the_stored_copies(scanned):
    db, *_ = scanned
    with Store(db, readonly=True) as store:
        found = api.sources("light_edit", store, LEXICAL)
        ids = [c.source.article.id for c in found]
        assert set(ids) <= set(COPIES) and "wire_original" in ids
        assert all(c.derived.article.id == "light_edit" for c in found)
        assert "independent" not in ids and "heavy_paraphrase" not in ids


def test_an_error_clustering_stories_beside_the_alignment_fails_the_scan(scanned, tmp_path, monkeypatch):
    from wiretrace import corpus

    copy, late = copy_with_late(scanned[0], tmp_path, "late_reprint", "light_edit")

    def broken(*args, **kwargs):
        raise RuntimeError("clustering failed")

    monkeypatch.setattr(corpus, "cluster_stories", broken)
    with Store(copy) as store:
        api.add([late], store, LEXICAL)
        before = store.story_groups()
        with pytest.raises(RuntimeError, match="clustering failed"):
            scan(store, LEXICAL, workers=1)
        assert store.story_groups() == before  # the stories saved before are kept


def test_scan_of_files_uses_a_temporary_store():
    report = scan([EXAMPLES / "wire_original.txt", EXAMPLES / "verbatim_reprint.txt"], LEXICAL, workers=1)
    assert report.articles == 2 and report.pairs_found == 1
    assert report.families[0].members == ("verbatim_reprint", "wire_original")


def test_an_error_during_add_keeps_the_batches_already_stored(tmp_path, monkeypatch):
    from dataclasses import replace

    options = replace(LEXICAL, store=replace(LEXICAL.store, batch_size=2))
    real, calls = api._embed_batch, []

    def failing(docs, *args):
        calls.append(len(docs))
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the second batch was being embedded
        return real(docs, *args)

    monkeypatch.setattr(api, "_embed_batch", failing)
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(KeyboardInterrupt):
            api.add([EXAMPLES / f"{name}.txt" for name in COPIES + OTHERS], store, options)
    with Store(tmp_path / "s.db", readonly=True) as store:
        assert sorted(store.ids()) == sorted(COPIES[:2])  # the first batch, whole; nothing of the second


def _stored_pairs(db) -> list[tuple]:
    with Store(db, readonly=True) as store:
        return sorted((p["derived"]["id"], p["source"]["id"], p["verdict"], p["derived_share"], p["direction"]["original"])
                      for p in store.iter_pairs())


def test_scan_on_an_executor_stores_what_a_local_scan_stores(scanned, tmp_path):
    """The compare stage is a function of (store path, pairs, options): any Executor runs it."""
    from concurrent.futures import ThreadPoolExecutor

    db, *_ = scanned
    with Store(tmp_path / "t.db") as store, ThreadPoolExecutor(2) as pool:
        api.add([EXAMPLES / f"{name}.txt" for name in COPIES + OTHERS], store, LEXICAL)
        report = scan(store, LEXICAL, executor=pool)
    assert report.compared > 0 and not report.errors
    assert _stored_pairs(tmp_path / "t.db") == _stored_pairs(db)


def test_scan_runs_on_a_dask_cluster(scanned, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    db, *_ = scanned
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client, \
            Store(tmp_path / "d.db") as store:
        api.add([EXAMPLES / f"{name}.txt" for name in COPIES + OTHERS], store, LEXICAL)
        scan(store, LEXICAL, executor=client.get_executor())
    assert _stored_pairs(tmp_path / "d.db") == _stored_pairs(db)


@pytest.mark.parametrize("window", [0.0, 2.0])
def test_scan_candidates_are_each_articles_own_query(tmp_path, window):
    """`scan` takes all candidates at once; they are the pairs querying article by article gives."""
    from dataclasses import replace

    from wiretrace.corpus import _candidate_pairs
    from wiretrace.index import CandidateIndex, Filters

    options = replace(LEXICAL, scan=replace(LEXICAL.scan, window_days=window, candidates=2))
    with Store(tmp_path / "c.db") as store:
        api.add([EXAMPLES / f"{name}.txt" for name in COPIES + OTHERS], store, options)
        index = CandidateIndex.open(store, options)
        todo = sorted(store.ids())
        found = _candidate_pairs(store, index, todo, options, "", "", lambda n: None)
        expected = set()
        for i in todo:
            article = store.get_article(i)
            for c in index.query(store.signature(i), store.vectors(i), k=2,
                                 filters=Filters(window=window or None).around(article.published), exclude=(i,)):
                expected.add(tuple(sorted((i, c.id))))
    assert found == sorted(expected) and len(found) >= 3


def test_a_scan_releases_its_candidate_index(scanned, tmp_path):
    from wiretrace.index import _OPEN, CandidateIndex

    db, *_ = scanned
    copy = tmp_path / "x.db"
    copy.write_bytes(Path(db).read_bytes())
    changed = replace(LEXICAL, attribute=replace(LEXICAL.attribute, min_copies=LEXICAL.attribute.min_copies + 2))
    with Store(copy) as store:
        CandidateIndex.open(store, changed)
        assert store in _OPEN
        scan(store, changed, workers=1)
        assert store not in _OPEN  # held past the candidate stage, it would stay for the whole scan
        assert api.sources("light_edit", store, changed)  # and is opened again when asked


def test_the_scan_settings_hash_follows_what_pairs_depend_on_not_index_threads():
    from wiretrace.corpus import options_hash

    base = options_hash(LEXICAL)
    assert options_hash(replace(LEXICAL, index=replace(LEXICAL.index, threads=1))) == base
    assert options_hash(replace(LEXICAL, index=replace(LEXICAL.index, bucket_cap=50))) != base


def test_a_worker_collects_garbage_far_less_often():
    import gc

    from wiretrace.corpus import worker_started

    before = gc.get_threshold()
    try:
        worker_started()
        assert gc.get_threshold() == (max(before[0], 50_000), 100 * before[1], 100 * before[2])
    finally:
        gc.set_threshold(*before)


_CYCLES_LEFT = """
import gc, itertools, sys
from wiretrace.corpus import _compare_in
from wiretrace.options import load_options
from wiretrace.store import Store
options = load_options(env={}, overrides={"fingerprint": {"model": "none"}})
with Store(sys.argv[1], readonly=True) as store:
    pairs = list(itertools.combinations(sorted(store.ids()), 2))
    _compare_in(store, pairs, options)  # caches filled: only what the pairs leave is counted
    gc.collect()
    gc.disable()
    compared, rows, errors, _ = _compare_in(store, pairs, options)
    del rows
    print(compared, len(errors), gc.collect())
"""


def test_comparing_stored_pairs_leaves_no_reference_cycles(scanned):
    """What `worker_started` relies on: a worker's garbage is freed by reference counting. In a
    process of its own, as a worker is (other tests leave threads whose garbage would count)."""
    import subprocess
    import sys

    db, *_ = scanned
    out = subprocess.run([sys.executable, "-c", _CYCLES_LEFT, str(db)], capture_output=True, text=True, check=True)
    compared, errors, unreachable = map(int, out.stdout.split())
    assert (compared, errors) == (15, 0)
    assert unreachable == 0


# --- copies of one earlier story are not aligned with each other --------------------------------

from wiretrace.models import Article  # noqa: E402

WIRE = (EXAMPLES / "wire_original.txt").read_text(encoding="utf-8")
EXTRA = "\n\nA spokesman for the regional council said on Tuesday that the review would take six weeks.\n"


def _copies(extra_in_both: bool) -> list[Article]:
    """The wire story, and two later copies of it (the second also copies the first's addition)."""
    first = WIRE + (EXTRA if extra_in_both else "")
    return [Article("wire", WIRE, published="2024-05-01T08:00:00"),
            Article("copy_a", first, published="2024-05-01T12:00:00", outlet="a.example"),
            Article("copy_b", first + "\n\nSubscribe to our newsletter for more.\n",
                    published="2024-05-02", outlet="b.example")]


def _add(store, articles: list[Article], options, tmp_path) -> None:
    import json

    path = tmp_path / "copies.jsonl"
    path.write_text("".join(json.dumps({"id": a.id, "text": a.text, "published": a.published, "outlet": a.outlet})
                            + "\n" for a in articles), encoding="utf-8")
    assert api.add([path], store, options).failed == 0


def _pairs_of(report_db) -> set[frozenset]:
    with Store(report_db, readonly=True) as store:
        return {frozenset((p.derived, p.source)) for p in store.iter_pair_summaries()}


@pytest.mark.parametrize("explained", [True, False])
def test_two_copies_of_an_earlier_story_are_compared_with_it_not_with_each_other(tmp_path, explained):
    options = replace(LEXICAL, scan=replace(LEXICAL.scan, explained=explained))
    with Store(tmp_path / "s.db") as store:
        _add(store, _copies(extra_in_both=False), options, tmp_path)
        report = scan(store, options, workers=1)
    pairs = _pairs_of(tmp_path / "s.db")
    assert {frozenset(("wire", "copy_a")), frozenset(("wire", "copy_b"))} <= pairs
    assert (frozenset(("copy_a", "copy_b")) in pairs) is not explained
    assert report.explained == int(explained) and report.compared == 3 - report.explained
    assert report.families[0].root == "wire" and set(report.families[0].members) == {"wire", "copy_a", "copy_b"}


def test_a_copy_of_a_copy_that_takes_what_the_first_added_is_aligned_with_it(tmp_path):
    with Store(tmp_path / "s.db") as store:
        _add(store, _copies(extra_in_both=True), LEXICAL, tmp_path)
        report = scan(store, LEXICAL, workers=1)
    assert report.explained == 0 and frozenset(("copy_a", "copy_b")) in _pairs_of(tmp_path / "s.db")


def test_the_articles_that_may_explain_a_pair_are_linked_to_both_and_published_before_both():
    from datetime import datetime

    from wiretrace.corpus import _earlier, _neighbours

    day = lambda d, hour=None: (datetime(2024, 5, d, hour or 0), hour is not None)  # noqa: E731
    pairs = [("a", "b"), ("a", "w"), ("b", "w"), ("a", "v"), ("b", "v"), ("a", "s"), ("b", "s"),
             ("a", "u"), ("b", "u"), ("a", "x"), ("a", "t"), ("b", "t")]
    # t: the same day as a, but a date alone (it may have come out after a): not surely before
    when = {"a": day(5, 9), "b": day(6), "w": day(2), "v": day(1, 7), "s": day(5, 9), "u": None, "x": day(1),
            "t": day(5)}
    graphs = (_neighbours(pairs),)
    found = _earlier([("a", "b")], graphs, when, most=4)
    # s is as old as a (not before both), u is undated, x is linked to a only; v before w
    assert found == {("a", "b"): ("v", "w")}
    assert _earlier([("a", "b")], graphs, when, most=1) == {("a", "b"): ("v",)}
    assert _earlier([("a", "u")], graphs, when, most=4) == {}  # an undated article: align
    # a stored pair links x to b too: x then explains (its day sorts as its first moment)
    both = (_neighbours(pairs), _neighbours([("x", "b")]))
    assert _earlier([("a", "b")], both, when, most=4) == {("a", "b"): ("x", "v", "w")}


def test_the_scan_settings_hash_follows_whether_explained_pairs_are_left_out():
    from wiretrace.corpus import options_hash

    off = replace(LEXICAL, scan=replace(LEXICAL.scan, explained=False))
    assert options_hash(off) != options_hash(LEXICAL)
    assert options_hash(replace(off, scan=replace(off.scan, explained_slack=9))) == options_hash(off)


def test_a_copy_added_later_is_not_aligned_with_the_stored_copy_of_the_same_story(tmp_path):
    """The earlier copy's pair with the story is stored, not a candidate now: stored pairs link too."""
    wire, first, second = _copies(extra_in_both=False)
    with Store(tmp_path / "s.db") as store:
        _add(store, [wire, first], LEXICAL, tmp_path)
        assert scan(store, LEXICAL, workers=1).pairs_found == 1
        _add(store, [second], LEXICAL, tmp_path)
        report = scan(store, LEXICAL, workers=1)
    assert (report.compared, report.explained) == (1, 1)
    assert _pairs_of(tmp_path / "s.db") == {frozenset(("wire", "copy_a")), frozenset(("wire", "copy_b"))}
