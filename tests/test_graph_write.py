"""WriteGraph against the real embedded store: round trip, idempotence, batching, provenance,
untyped mentions, hostile names and labels, concurrent writers."""
from __future__ import annotations

import ast
import threading
from collections import Counter
from typing import List, Tuple

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.kg import queries
from mmkg.kg import rows as kg_rows
from mmkg.kg import statements as kg_statements
from mmkg.kg import writer as kg_writer
from mmkg.kg.schema import ensure_schema
from mmkg.schemas.records import EntityMention, ImageRef, Post, Triple
from mmkg.schemas.relations import RELATIONS, SYMMETRIC_RELATIONS, implied_types, relation_type_name
from tests.beam_util import run_and_collect
from tests.conftest import mnre_path

HOSTILE = "x'}) DETACH DELETE n //"


def mnre_sample(n_lines: int = 40) -> Tuple[List[Post], List[Triple]]:
    """Posts and gold triples from the first MNRE training lines (lines sharing an image are one
    post, as the reader makes them); MNRE mentions have no type."""
    posts, triples, seen = {}, [], set()
    with open(mnre_path("mnre_train.txt"), encoding="utf-8") as f:
        for _, line in zip(range(n_lines), f):
            d = ast.literal_eval(line)
            post_id = "mnre-" + d["img_id"].rsplit(".", 1)[0]
            text = " ".join(d["token"])
            path = mnre_path("images") / d["img_id"]
            if post_id not in posts:
                posts[post_id] = Post(
                    post_id, text, image=ImageRef(d["img_id"], path=str(path)),
                    entities=(EntityMention(d["h"]["name"], 0, 1), EntityMention(d["t"]["name"], 2, 3)),
                    source=f"mnre_train.txt:{len(seen)}",
                )
            if d["relation"] == "None" or (post_id, d["h"]["name"], d["t"]["name"]) in seen:
                continue
            seen.add((post_id, d["h"]["name"], d["t"]["name"]))
            h_type, t_type = implied_types(d["relation"])
            triples.append(Triple(d["h"]["name"], h_type, d["relation"], d["t"]["name"], t_type,
                                  0.6 + 0.01 * (len(triples) % 30), "guide", post_id, d["img_id"], "guide-test"))
    return list(posts.values()), triples


def fact(t: Triple) -> Tuple[str, str, str]:
    """The edge a triple lands on: symmetric relations are stored once, smaller key first."""
    h, tl = kg_rows.entity_key(t.head, t.head_type), kg_rows.entity_key(t.tail, t.tail_type)
    if t.relation in SYMMETRIC_RELATIONS:
        h, tl = min(h, tl), max(h, tl)
    return h, t.relation, tl


def write(settings, posts, triples, batch_size=1000):
    from mmkg.transforms.graph_writer import WriteGraph

    def build(p):
        inputs = {"posts": p | "Posts" >> beam.Create(posts), "triples": p | "Triples" >> beam.Create(triples)}
        out = inputs | WriteGraph(settings, batch_size=batch_size)
        return {"dead": out["dead_letters"]}

    return run_and_collect(build)["dead"]


def test_round_trip_keeps_every_fact_with_its_provenance(empty_graph, graph_driver):
    posts, triples = mnre_sample()
    assert len(triples) >= 10
    assert write(empty_graph, posts, triples) == []
    db = empty_graph.database
    counts = dict(queries.stats(graph_driver, db)["labels"])
    assert counts["Post"] == len(posts)
    assert counts["Image"] == len({p.image.image_id for p in posts})
    facts = Counter(fact(t) for t in triples)
    rel_rows = queries.run_cypher(
        graph_driver,
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.key, r.label, t.key, type(r), r.post_ids, r.support", None, db,
    )[1]
    assert len(rel_rows) == len(facts)
    for h, label, t, rel_type, post_ids, support in rel_rows:
        assert rel_type == relation_type_name(label)
        assert support == len(post_ids) == len(set(post_ids))
        want = {tr.post_id for tr in triples if fact(tr) == (h, label, t)}
        assert set(post_ids) == want
    # Every relation edge leads back to its posts and their images.
    t0 = triples[0]
    keys, rows = queries.evidence(graph_driver, t0.head, t0.relation, t0.tail, db)
    got = {(r[keys.index("post")], r[keys.index("image")]) for r in rows}
    assert (t0.post_id, t0.image_id) in got
    assert all(r[keys.index("text")] for r in rows)


def test_untyped_mentions_become_entities_only_through_triples(empty_graph, graph_driver):
    from mmkg.transforms.graph_writer import WriteGraph

    post = Post("p1", "Alice joined Acme", entities=(EntityMention("Alice", 0, 5), EntityMention("Bob", 6, 9),
                                                    EntityMention("Acme", 13, 17, "ORG")))
    triple = Triple("Alice", "PER", "/per/org/member_of", "Acme", "ORG", 0.9, "llm", "p1", llm_model="m")
    with beam.Pipeline() as p:
        inputs = {"posts": p | "Posts" >> beam.Create([post]), "triples": p | "Triples" >> beam.Create([triple])}
        _ = inputs | WriteGraph(empty_graph)
    counters = {m.key.metric.name: m.committed for m in p.result.metrics().query(
        MetricsFilter().with_namespace("mmkg"))["counters"]}
    assert counters == {"graph_rows_written": 2, "graph_posts_written": 1, "graph_triples_written": 1,
                        "graph_batches": 2}  # posts and each relation label are batched apart
    rows = queries.run_cypher(graph_driver, "MATCH (:Post {id: 'p1'})-[:MENTIONS]->(e) RETURN e.key ORDER BY e.key",
                              None, empty_graph.database)[1]
    assert [r[0] for r in rows] == ["ORG:acme", "PER:alice"]  # Bob has no type: no node


def test_rerun_and_any_batching_give_the_same_graph(empty_graph, graph_driver):
    posts, triples = mnre_sample()
    # The same fact from two posts, with two confidences: one edge, both posts, the higher one.
    triples += [Triple("Ann Lee", "PER", "/per/per/couple", "Bo Kim", "PER", 0.55, "guide", posts[0].post_id),
                Triple("bo  KIM", "PER", "/per/per/couple", "Ann Lee", "PER", 0.95, "llm", posts[1].post_id)]
    write(empty_graph, posts, triples, batch_size=1000)
    first = queries.graph_snapshot(graph_driver, empty_graph.database)
    write(empty_graph, posts, triples, batch_size=1000)
    assert queries.graph_snapshot(graph_driver, empty_graph.database) == first
    write(empty_graph, list(reversed(posts)), list(reversed(triples)), batch_size=3)
    assert queries.graph_snapshot(graph_driver, empty_graph.database) == first

    rows = queries.run_cypher(graph_driver, "MATCH (a)-[r:COUPLE]-(b) RETURN DISTINCT r.post_ids, r.confidence, "
                              "r.decided_by", None, empty_graph.database)[1]
    assert len(rows) == 1  # symmetric: one edge for both directions
    post_ids, confidence, decided_by = rows[0]
    assert sorted(post_ids) == sorted({posts[0].post_id, posts[1].post_id})
    assert confidence == pytest.approx(0.95)
    assert sorted(decided_by) == ["guide", "llm"]

    # A fresh write in another order and batch size gives the same graph as the first one.
    graph_driver.execute_query("MATCH (n) DETACH DELETE n", database_=empty_graph.database)
    write(empty_graph, posts[::2] + posts[1::2], triples[1:] + triples[:1], batch_size=7)
    assert queries.graph_snapshot(graph_driver, empty_graph.database) == first


def test_constraints_can_be_created_twice(empty_graph, graph_driver):
    ensure_schema(graph_driver, empty_graph.database)
    ensure_schema(graph_driver, empty_graph.database)
    rows = queries.run_cypher(graph_driver, "SHOW CONSTRAINTS", None, empty_graph.database)
    names = Counter(dict(zip(rows[0], r))["name"] for r in rows[1])
    assert [names[n] for n in ("post_id", "image_id", "entity_key")] == [1, 1, 1]
    with pytest.raises(Exception):  # the constraint is enforced, not only declared
        graph_driver.execute_query("CREATE (:Post {id: 'dup'}) CREATE (:Post {id: 'dup'})",
                                   database_=empty_graph.database)


def test_input_text_never_reaches_cypher_text():
    post = Post(HOSTILE, HOSTILE, image=ImageRef(HOSTILE, path=HOSTILE),
                entities=(EntityMention(HOSTILE, 0, 3, "PER"),), source=HOSTILE)
    triple = Triple(HOSTILE, "PER", "/per/org/member_of", "}]->(m) SET m.x = 1 //", "ORG", 0.5, HOSTILE, HOSTILE,
                    HOSTILE, HOSTILE, HOSTILE)
    plan = kg_writer.plan_batch([kg_rows.post_row(post), kg_rows.triple_row(triple)])
    fixed = {kg_statements.ENTITIES, kg_statements.POSTS, kg_statements.IMAGES, kg_statements.MENTIONS, *kg_statements.RELATION_STATEMENTS.values()}
    assert plan and all(statement in fixed for statement, _ in plan)
    for label in RELATIONS[1:]:
        assert f":{relation_type_name(label)}]" in kg_statements.RELATION_STATEMENTS[label]
    with pytest.raises(kg_rows.InvalidTriple):
        kg_rows.triple_row(Triple("a", "PER", "MEMBER_OF]->(x) DETACH DELETE x //", "b", "ORG", 0.5, "guide", "p"))
    with pytest.raises(kg_rows.InvalidTriple):
        kg_rows.triple_row(Triple("a", "PER`:X", "/per/org/member_of", "b", "ORG", 0.5, "guide", "p"))


def test_hostile_names_are_stored_as_text_and_harm_nothing(empty_graph, graph_driver):
    posts, triples = mnre_sample(10)
    write(empty_graph, posts, triples)
    before = queries.stats(graph_driver, empty_graph.database)
    post = Post("evil", HOSTILE, entities=(EntityMention(HOSTILE, 0, 3, "PER"),))
    evil = [Triple(HOSTILE, "PER", "/per/org/member_of", "Acme", "ORG", 0.5, "guide", "evil"),
            Triple("a", "PER", "x]->() DETACH DELETE n //", "b", "ORG", 0.5, "guide", "evil")]
    dead = write(empty_graph, [post], evil)
    assert [d.stage for d in dead] == ["graph"] and "closed set" in dead[0].reason
    after = queries.stats(graph_driver, empty_graph.database)
    labels_before, labels_after = dict(before["labels"]), dict(after["labels"])
    assert labels_after["Post"] == labels_before["Post"] + 1
    assert labels_after["Entity"] == labels_before["Entity"] + 2
    allowed = {"MENTIONS", "HAS_IMAGE", *kg_statements.RELATION_TYPES.values()}
    assert {t for t, _ in after["types"]} <= allowed
    name = queries.run_cypher(graph_driver, "MATCH (e:Entity {key: $k}) RETURN e.name",
                              {"k": kg_rows.entity_key(HOSTILE, "PER")}, empty_graph.database)[1]
    assert name == [[HOSTILE]]


def test_concurrent_writers_with_overlapping_input_leave_no_duplicates(empty_graph, graph_driver):
    posts, triples = mnre_sample()
    rows = [kg_rows.post_row(p) for p in posts] + [kg_rows.triple_row(t) for t in triples]
    errors = []

    def worker(order):
        driver = empty_graph.driver()
        try:
            for i in range(0, len(order), 5):
                kg_writer.write_rows(driver, order[i:i + 5], empty_graph.database)
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            driver.close()

    threads = [threading.Thread(target=worker, args=(o,)) for o in (rows, rows[::-1], rows[1::2] + rows[::2])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    concurrent = queries.graph_snapshot(graph_driver, empty_graph.database)
    graph_driver.execute_query("MATCH (n) DETACH DELETE n", database_=empty_graph.database)
    kg_writer.write_rows(graph_driver, rows, empty_graph.database)
    assert queries.graph_snapshot(graph_driver, empty_graph.database) == concurrent


def test_workers_in_other_processes_write_the_same_graph(empty_graph, graph_driver):
    """A multi-process DirectRunner: each worker process unpickles the settings and connects."""
    from mmkg.transforms.graph_writer import WriteGraph

    posts, triples = mnre_sample(20)
    write(empty_graph, posts, triples)
    expected = queries.graph_snapshot(graph_driver, empty_graph.database)
    graph_driver.execute_query("MATCH (n) DETACH DELETE n", database_=empty_graph.database)
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    with beam.Pipeline(options=options) as p:
        inputs = {"posts": p | "Posts" >> beam.Create(posts), "triples": p | "Triples" >> beam.Create(triples)}
        _ = inputs | WriteGraph(empty_graph, batch_size=3)
    assert queries.graph_snapshot(graph_driver, empty_graph.database) == expected
