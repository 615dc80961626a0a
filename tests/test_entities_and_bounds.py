"""What reaches the graph as an entity and as a triple: the retweet prefix is provenance, junk
spans are dropped with a reason, a post's pairs are bounded (nearest first, the rest counted),
and the confidence cut keeps low triples out of the graph but in Parquet."""
from __future__ import annotations

import glob
import json

import pyarrow.parquet as pq
import pytest

from mmkg.cli.run import main as run_main
from mmkg.kg import queries
from mmkg.kg.embedded import graph_settings
from mmkg.kg.rows import post_row
from mmkg.ner.mentions import CUT_NAME, RETWEET_SOURCE, clean_mentions
from mmkg.ner.pairs import enumerate_pairs
from mmkg.schemas.records import EntityMention, Post
from mmkg.schemas.retweets import retweet_of

TEXT = "RT @thehill : HE said Treaty of Versailles & amp ; Trump n't met Kim Jong Un in the US . Un"


def m(surface, etype="PER", nth=1):
    start = -1
    for _ in range(nth):
        start = TEXT.index(surface, start + 1)
    return EntityMention(surface, start, start + len(surface), etype, "ner")


def test_junk_spans_are_dropped_with_their_reason_and_names_are_kept():
    kept, dropped = clean_mentions(TEXT, [m("RT @thehill", "ORG"), m("HE"), m("Treaty of", "MISC"), m("& amp", "ORG"),
                                          m("Trump"), m("n't"), m("Kim Jong Un"), m("US", "LOC"), m("."),
                                          m("Un", nth=2)])
    assert [k.text for k in kept] == ["Trump", "Kim Jong Un", "US"]
    reasons = {d.mention.text: d.reason for d in dropped}
    assert reasons["RT @thehill"] == RETWEET_SOURCE and reasons["Treaty of"] == CUT_NAME
    assert set(reasons) == {"RT @thehill", "HE", "Treaty of", "& amp", "n't", ".", "Un"}


def test_the_tail_of_an_x_of_the_y_name_is_cut_but_a_name_after_of_is_not():
    text = "Taylor Swift won Album of the Year . The President of the United States spoke ."

    def at(surface):
        start = text.index(surface)
        return EntityMention(surface, start, start + len(surface), "MISC", "ner")

    kept, dropped = clean_mentions(text, [at("the Year"), at("the United States")])
    assert [k.text for k in kept] == ["the United States"]
    assert [(d.mention.text, d.reason) for d in dropped] == [("the Year", CUT_NAME)]


def test_a_span_cut_inside_a_word_is_extended_to_the_word():
    start = TEXT.index("ersailles")
    kept, dropped = clean_mentions(TEXT, [EntityMention("ersailles", start, start + 9, "MISC", "ner")])
    assert not dropped and kept[0].text == "Versailles" and TEXT[kept[0].start:kept[0].end] == "Versailles"


def test_a_name_cut_after_an_abbreviated_first_word_is_made_whole_and_its_halves_joined():
    def spans(text, *names):
        out = []
        for surface, etype in names:
            start = text.index(surface)
            out.append(EntityMention(surface, start, start + len(surface), etype, "ner"))
        return [(k.text, k.type) for k in clean_mentions(text, out)[0]]

    # The corpora's tokenisation and a raw post's spelling.
    assert spans("A nice place to stop by . . St . Gallen , #Switzerland", ("Gallen", "LOC"),
                 ("#Switzerland", "LOC")) == [("St . Gallen", "LOC"), ("#Switzerland", "LOC")]
    assert spans("Homicide Capt . Clark spoke in Mt. Airy today", ("Clark", "PER"),
                 ("Airy", "LOC")) == [("Clark", "PER"), ("Mt. Airy", "LOC")]
    # Two halves the tagger split become one name.
    assert spans("Justin Bieber spotted in Saint - Tropez , France", ("Justin Bieber", "PER"), ("Saint", "LOC"),
                 ("Tropez", "LOC"), ("France", "LOC")) == [("Justin Bieber", "PER"), ("Saint - Tropez", "LOC"),
                                                           ("France", "LOC")]
    # After a capitalised word or a number "St." ends a street's name, and the name after it is
    # another one; names that merely sit side by side are not joined.
    assert spans("2400 Allen St. Dallas , TX 75204", ("Allen St", "LOC"), ("Dallas", "LOC"), ("TX", "LOC")) == [
        ("Allen St", "LOC"), ("Dallas", "LOC"), ("TX", "LOC")]
    assert spans("Meet at 5th St. Paris is next", ("Paris", "LOC")) == [("Paris", "LOC")]
    assert spans("Trump met Putin in Paris", ("Trump", "PER"), ("Putin", "PER"), ("Paris", "LOC")) == [
        ("Trump", "PER"), ("Putin", "PER"), ("Paris", "LOC")]


def test_the_retweet_source_is_kept_on_the_post_in_the_graph_rows():
    assert retweet_of(TEXT) == "thehill" and retweet_of("Trump met Kim") is None
    assert post_row(Post("p", TEXT))["retweet_of"] == "thehill"


def test_pairs_of_a_post_are_bounded_nearest_first():
    names = ["Ann Lee", "Bob Ray", "Cy Dunn", "Di Fox", "Ed Gray", "Flo Hart"]
    text = " met ".join(names)
    ents = tuple(EntityMention(n, text.index(n), text.index(n) + len(n), "PER") for n in names)
    post = Post("p", text, entities=ents)
    every = enumerate_pairs(post)
    assert len(every) == 30
    near = enumerate_pairs(post, max_pairs=10)
    assert len(near) == 10
    # The ten nearest: the five neighbouring pairs in both directions.
    assert {frozenset((p.head.text, p.tail.text)) for p in near} == {frozenset(names[i:i + 2]) for i in range(5)}


CUT = 0.3


@pytest.fixture(scope="module")
def raw_posts_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("raw")
    posts = tmp / "posts.jsonl"
    lines = [
        {"id": "r1", "text": "RT @motorfans : Ferrari unveils its new car at the Goodwood Festival of Speed in England"},
        {"id": "r2", "text": "Kim Jong Un and Donald Trump met in Singapore , says Moon Jae-in of South Korea"},
        {"id": "r3", "text": "Serena Williams beat Venus Williams at Wimbledon in London , with Roger Federer , "
                             "Rafael Nadal , Andy Murray and Novak Djokovic watching from the Royal Box"},
    ]
    posts.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    data = tmp / "data"
    argv = ["--input", str(posts), "--llm", "none", "--data-dir", str(data),
            "--max-pairs-per-post", "12", "--min-confidence", str(CUT)]
    assert run_main(argv) == 0
    return data


def test_no_detected_entity_is_a_retweet_source_and_pairs_stay_bounded(raw_posts_run):
    pairs = pq.read_table(glob.glob(str(raw_posts_run / "out" / "pairs-*.parquet"))).to_pylist()
    assert pairs
    assert not [p for p in pairs if p["head"].startswith("RT") or p["tail"].startswith("RT")
                or "@motorfans" in (p["head"], p["tail"])]
    per_post = {}
    for p in pairs:
        per_post[p["post_id"]] = per_post.get(p["post_id"], 0) + 1
    assert max(per_post.values()) <= 12


def test_the_confidence_cut_keeps_low_triples_out_of_the_graph_but_in_parquet(raw_posts_run):
    triples = pq.read_table(glob.glob(str(raw_posts_run / "out" / "triples-*.parquet"))).to_pylist()
    # Parquet keeps the low ones for another cut later; the graph holds exactly the rest.
    assert any(t["confidence"] < CUT for t in triples) and any(t["confidence"] >= CUT for t in triples)
    with graph_settings(str(raw_posts_run), None) as settings:
        driver = settings.driver()
        try:
            _, rows = queries.run_cypher(driver, "MATCH (:Entity)-[r]->(:Entity) RETURN r.confidence",
                                         None, settings.database)
        finally:
            driver.close()
    kept = {(t["head"], t["relation"], t["tail"]) for t in triples if t["confidence"] >= CUT}
    assert len(rows) == len(kept) and all(r[0] >= CUT for r in rows)


def test_a_confidence_outside_zero_one_is_a_usage_error(tmp_path):
    assert run_main(["--input", "examples/posts.jsonl", "--no-graph", "--min-confidence", "1.5",
                     "--data-dir", str(tmp_path)]) == 2
