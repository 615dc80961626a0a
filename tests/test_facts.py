"""One triple per fact and post (transforms.facts) on the real DirectRunner, and its place in the
job `mmkg run` builds."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.schemas.records import Triple
from mmkg.transforms.facts import OneTriplePerFact, fact_key
from tests.beam_util import run_and_collect

PEER, CONTAIN = "/per/per/peer", "/loc/loc/contain"


def _t(head, rel, tail, conf, post="p1", ht="PER", tt="PER", by="guide"):
    return Triple(head=head, head_type=ht, relation=rel, tail=tail, tail_type=tt, confidence=conf,
                  decided_by=by, post_id=post)


def test_a_symmetric_fact_in_both_orders_is_one_key_a_directed_one_is_not():
    assert fact_key(_t("Trump", PEER, "Kim", 0.6)) == fact_key(_t("Kim", PEER, "Trump", 0.3))
    assert fact_key(_t("Chile", CONTAIN, "Santiago", 0.8, ht="LOC", tt="LOC")) != fact_key(
        _t("Santiago", CONTAIN, "Chile", 0.8, ht="LOC", tt="LOC"))
    assert fact_key(_t("Trump", PEER, "Kim", 0.6)) != fact_key(_t("Trump", PEER, "Kim", 0.6, post="p2"))


def test_the_most_confident_statement_of_each_fact_survives():
    given = [
        _t("Trump", PEER, "Kim", 0.64), _t("Kim", PEER, "Trump", 0.30),  # one fact, both orders
        _t("Chile", CONTAIN, "Santiago", 0.85, ht="LOC", tt="LOC", by="gazetteer"),
        _t("Chile", CONTAIN, "Santiago", 0.80, ht="LOC", tt="LOC", by="gazetteer"),  # flipped pair, same fact
        _t("Santiago", CONTAIN, "Chile", 0.10, ht="LOC", tt="LOC"),  # the other direction: another claim
        _t("Trump", PEER, "Kim", 0.20, post="p2"),  # another post: kept
        _t("Trump", "/per/per/couple", "Kim", 0.05),  # another label: kept
    ]
    out = run_and_collect(lambda p: {"t": p | beam.Create(given) | OneTriplePerFact()})["t"]
    got = sorted((t.post_id, t.head, t.relation, t.tail, t.confidence) for t in out)
    assert got == [
        ("p1", "Chile", CONTAIN, "Santiago", 0.85),
        ("p1", "Santiago", CONTAIN, "Chile", 0.10),
        ("p1", "Trump", "/per/per/couple", "Kim", 0.05),
        ("p1", "Trump", PEER, "Kim", 0.64),
        ("p2", "Trump", PEER, "Kim", 0.20),
    ]


def test_the_job_mmkg_run_builds_merges_restated_facts_after_the_place_check(tmp_path):
    from mmkg.pipeline.build import build

    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "p", "text": "Dallas , Texas"}\n')
    opts = PipelineOptions(["--input", str(posts), "--no-graph", "--data-dir", str(tmp_path)])
    p = beam.Pipeline(options=opts)
    build(p, settings_from_options(opts.view_as(MmkgOptions), {}))
    nodes = {}

    class Collect(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            nodes[node.full_label] = node

        def visit_transform(self, node):
            nodes[node.full_label] = node

    p.visit(Collect())
    facts = nodes["OneTriplePerFact"]
    assert [pc.producer.full_label for pc in facts.main_inputs.values()] == ["CheckPlaces"]
    assert [pc.producer.full_label for pc in nodes["WriteTriples"].main_inputs.values()] == ["OneTriplePerFact/Strongest"]
