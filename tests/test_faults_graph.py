"""A graph store that stops in the middle of a write, a re-run, and two processes writing
overlapping input: the graph ends exactly as after one clean write, with no duplicates.

Each test writes MNRE posts and their triples with WriteGraph on the real DirectRunner into a
real store of its own (one per module and backend, on a temporary data dir: the embedded
ArcadeDB, then a real Neo4j), because the tests stop and restart it. Graphs are compared by counts and by a checksum over the sorted node
keys and relationship triples (and, in full, with kg.queries.graph_snapshot).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from typing import Optional

import apache_beam as beam
import pytest

from mmkg.kg import queries
from mmkg.kg.embedded import EmbeddedGraphStore
from mmkg.kg.settings import GraphSettings
from mmkg.transforms.graph_writer import WriteGraph
from tests import services
from tests.beam_util import run_and_collect
from tests.conftest import REPO
from tests.fixtures_graph import GRAPH_BACKENDS
from tests.test_graph_write import mnre_sample

BATCH = 20
POSTS, TRIPLES = mnre_sample(200)
ROWS = len(POSTS) + len(TRIPLES)

class _OnTransaction(logging.Handler):
    """Calls ``action`` in the writing thread just before the ``nth`` write transaction starts
    (the driver logs each BEGIN at DEBUG), so the previous batches are committed and the next
    one is not: a fault exactly between two batches."""

    def __init__(self, nth: int, action):
        super().__init__(logging.DEBUG)
        self.nth, self.action, self.seen = nth, action, 0

    def emit(self, record: logging.LogRecord) -> None:
        if "C: BEGIN" in record.getMessage():
            self.seen += 1
            if self.seen == self.nth:
                self.action()


def write(settings: GraphSettings, posts=POSTS, triples=TRIPLES, fault: Optional[_OnTransaction] = None):
    """WriteGraph over posts and triples on the DirectRunner; returns the dead letters."""

    def build(p):
        out = {"posts": p | "Posts" >> beam.Create(posts), "triples": p | "Triples" >> beam.Create(triples)} | WriteGraph(
            settings, batch_size=BATCH)
        return {"dead": out["dead_letters"]}

    driver_log = logging.getLogger("neo4j")
    level = driver_log.level
    if fault is not None:
        driver_log.setLevel(logging.DEBUG)
        driver_log.addHandler(fault)
    try:
        return run_and_collect(build)["dead"]
    finally:
        if fault is not None:
            driver_log.removeHandler(fault)
            driver_log.setLevel(level)


def summary(settings: GraphSettings):
    """(node count, relationship count, checksum over sorted node keys and relationship triples)."""
    driver = settings.driver()
    try:
        db = settings.database
        nodes = [r[0] for r in queries.run_cypher(
            driver, "MATCH (n) RETURN labels(n)[0] + ':' + coalesce(n.key, n.id)", None, db)[1]]
        rels = [tuple(r) for r in queries.run_cypher(
            driver, "MATCH (a)-[r]->(b) RETURN coalesce(a.key, a.id), type(r), coalesce(b.key, b.id)", None, db)[1]]
    finally:
        driver.close()
    digest = hashlib.sha256(repr((sorted(nodes), sorted(rels))).encode()).hexdigest()
    return len(nodes), len(rels), digest


def snapshot(settings: GraphSettings):
    driver = settings.driver()
    try:
        return queries.graph_snapshot(driver, settings.database)
    finally:
        driver.close()


def wipe(settings: GraphSettings) -> None:
    driver = settings.driver()
    try:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=settings.database)
    finally:
        driver.close()


def assert_no_duplicates(settings: GraphSettings) -> None:
    nodes, rels, _ = summary(settings)
    driver = settings.driver()
    try:
        db = settings.database
        distinct_nodes = queries.run_cypher(
            driver, "MATCH (n) RETURN count(DISTINCT labels(n)[0] + ':' + coalesce(n.key, n.id))", None, db)[1][0][0]
        distinct_rels = queries.run_cypher(
            driver, "MATCH (a)-[r]->(b) WITH DISTINCT a, type(r) AS t, b RETURN count(*)", None, db)[1][0][0]
    finally:
        driver.close()
    assert (nodes, rels) == (distinct_nodes, distinct_rels)


@pytest.fixture(scope="module", params=GRAPH_BACKENDS)
def store(request, tmp_path_factory):
    """A store of this module's own (the tests stop it): the embedded ArcadeDB, or a real Neo4j
    in its own JVM, whose stop() kills the process (SIGKILL: a crash, not a clean shutdown)."""
    if request.param == "neo4j":
        reason = services.missing("neo4j")
        if reason:
            pytest.skip(f"no real Neo4j: {reason}")
        s = services.Neo4jServer(str(tmp_path_factory.mktemp("faults-neo4j")))
    else:
        s = EmbeddedGraphStore(str(tmp_path_factory.mktemp("faults-graph")))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def reference(store):
    """The graph of one uninterrupted write of the whole input into an empty store."""
    wipe(store.settings)
    assert write(store.settings) == []
    assert_no_duplicates(store.settings)
    return summary(store.settings), snapshot(store.settings)


def test_the_reference_graph_holds_the_whole_input(reference):
    (nodes, rels, _), _ = reference
    entities = {(t.head, t.head_type) for t in TRIPLES} | {(t.tail, t.tail_type) for t in TRIPLES}
    images = {p.image.image_id for p in POSTS}
    assert nodes == len(POSTS) + len(images) + len({(n.casefold(), ty) for n, ty in entities})
    assert rels > len(TRIPLES)  # relations plus HAS_IMAGE and MENTIONS


def test_the_same_input_written_twice_gives_no_duplicates(store, reference):
    ref_summary, ref_snapshot = reference  # the store holds it: write it again, in another order
    assert write(store.settings, POSTS[::-1], TRIPLES[::-1]) == []
    assert_no_duplicates(store.settings)
    assert summary(store.settings) == ref_summary and snapshot(store.settings) == ref_snapshot


def test_stopped_mid_write_then_rerun_gives_the_uninterrupted_graph(store, reference):
    (ref_summary, ref_snapshot) = reference
    wipe(store.settings)
    # Fail fast once the store is gone: the driver gives up after 1 s of retries (and Beam's
    # DirectRunner retries the bundle a few times).
    impatient = dataclasses.replace(store.settings, max_retry_time=1.0)
    with pytest.raises(Exception, match="ServiceUnavailable|Couldn't connect"):
        write(impatient, fault=_OnTransaction(3, store.stop))  # two batches in, the third about to start
    assert not store.running
    store.start()  # same data dir, same port and password
    partial = summary(store.settings)
    assert 0 < partial[0] < ref_summary[0], "the stop did not land in the middle of the write"
    assert partial[0] <= 2 * BATCH * 3  # at most two batches' posts, images and entities

    assert write(store.settings) == []  # the re-run of the same input
    assert summary(store.settings) == ref_summary
    assert snapshot(store.settings) == ref_snapshot


def test_restart_within_the_retry_window_costs_only_time(store, reference):
    """The store goes away for 2 s mid-write; the driver's retries carry the run through."""
    ref_summary, ref_snapshot = reference
    wipe(store.settings)
    restarted = threading.Event()

    def bounce():
        store.stop()
        threading.Timer(2.0, lambda: (store.start(), restarted.set())).start()

    assert write(store.settings, fault=_OnTransaction(3, bounce)) == []
    assert restarted.wait(30)
    assert summary(store.settings) == ref_summary and snapshot(store.settings) == ref_snapshot


def _write_worker(path: str) -> None:
    """Entry point of a writer process: WriteGraph over the posts and triples pickled at ``path``,
    to the server named by NEO4J_URI with the password in NEO4J_PASSWORD."""
    from mmkg.pipeline.options import graph_from_values

    with open(path, "rb") as f:
        posts, triples = pickle.load(f)
    dead = write(graph_from_values(None), posts, triples)
    print(f"written {len(posts)} posts, {len(triples)} triples, {len(dead)} dead letters", flush=True)


def test_two_processes_writing_overlapping_input_give_no_duplicates(store, reference, tmp_path):
    ref_summary, ref_snapshot = reference
    wipe(store.settings)
    # Each process gets about two thirds of the input; the middle third is written by both.
    cut_a, cut_b = ROWS // 3, 2 * ROWS // 3
    items = [("post", p) for p in POSTS] + [("triple", t) for t in TRIPLES]
    shares = [items[:cut_b], items[cut_a:][::-1]]
    env = dict(os.environ, NEO4J_URI=store.settings.uri, NEO4J_USERNAME=store.settings.username,
               NEO4J_DATABASE=store.settings.database, NEO4J_PASSWORD=store.settings.password,
               PYTHONPATH=str(REPO))
    procs = []
    for i, share in enumerate(shares):
        path = tmp_path / f"share-{i}.pkl"
        with open(path, "wb") as f:
            pickle.dump(([x for k, x in share if k == "post"], [x for k, x in share if k == "triple"]), f)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", f"from tests.test_faults_graph import _write_worker; _write_worker({str(path)!r})"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "0 dead letters" in out
    assert_no_duplicates(store.settings)
    assert summary(store.settings) == ref_summary and snapshot(store.settings) == ref_snapshot
