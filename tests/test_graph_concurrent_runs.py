"""Two runs resolving entities on one graph at the same time: an entity record is written only over
the record its run read, so neither run silently overwrites what the other decided.

Against both real stores (the embedded ArcadeDB and a real Neo4j): the writer on its own (a stale
record refused, a retried batch accepted, two threads racing on one record), and the resolution
stage and graph writer on the real DirectRunner, where a run that read the graph before another
run folded an entity away is refused, and running it again gives the graph of one run over all
the posts.
"""
from __future__ import annotations

import json
import logging
import threading

import apache_beam as beam
import pytest

from mmkg.kg import queries
from mmkg.kg.rows import entity_row, post_row, record_fingerprint
from mmkg.kg.writer import GraphChangedError, apply_redirects, write_rows
from mmkg.schemas.records import EntityMention, Post
from mmkg.transforms.graph_writer import WriteGraph
from mmkg.transforms.resolve import EntityRows, KnownEntities, ResolveEntities
from tests.beam_util import run_and_collect


def record(key, posts):
    """An entity row whose record names its posts (the writer does not read a record's text)."""
    etype, name = key.split(":", 1)
    return entity_row(key, name, etype, [name], json.dumps({"posts": sorted(posts)}))


def stored(driver, database, key):
    _, rows = queries.run_cypher(driver, "MATCH (e:Entity {key: $key}) RETURN e.resolution", {"key": key}, database)
    return rows[0][0] if rows else None


def test_a_record_is_written_only_over_the_one_its_run_read(graph_driver, empty_graph):
    db = empty_graph.database
    first = record("PER:kim", ["p1"])
    write_rows(graph_driver, [first], db)  # read nothing, the graph held nothing: written
    assert stored(graph_driver, db, "PER:kim") == first["resolution"]

    # A run that read the empty graph too, and now writes its own record and a post beside it.
    stale = record("PER:kim", ["p2"])
    post = post_row(Post("p2", "Kim waves", entities=(EntityMention("Kim", 0, 3, "PER"),)))
    with pytest.raises(GraphChangedError, match="rewritten by another run") as refused:
        write_rows(graph_driver, [stale, post], db)
    assert refused.value.keys == ("PER:kim",)
    assert stored(graph_driver, db, "PER:kim") == first["resolution"]
    _, posts = queries.run_cypher(graph_driver, "MATCH (p:Post) RETURN p.id", None, db)
    assert posts == []  # the whole batch was rolled back, not only the record

    # A run that read the first record writes over it; the same batch again (a retry) is accepted.
    second = dict(record("PER:kim", ["p1", "p2"]), read=record_fingerprint(first["resolution"]))
    write_rows(graph_driver, [second, post], db)
    write_rows(graph_driver, [second, post], db)
    assert stored(graph_driver, db, "PER:kim") == second["resolution"]


def test_two_writers_racing_on_one_record_one_wins_and_the_other_is_told(graph_driver, empty_graph):
    db = empty_graph.database
    base = record("ORG:nasa", ["p0"])
    write_rows(graph_driver, [base], db)
    read = record_fingerprint(base["resolution"])
    for round_ in range(4):
        rows = [dict(record("ORG:nasa", ["p0", f"r{round_}-{w}"]), read=read) for w in (0, 1)]
        drivers = [empty_graph.driver() for _ in rows]
        try:
            outcome = race(*(lambda d=d, r=r: write_rows(d, [r], db) for d, r in zip(drivers, rows)))
        finally:
            for d in drivers:
                d.close()
        assert sorted(outcome) == ["done", "refused"], outcome
        winner = outcome.index("done")
        assert stored(graph_driver, db, "ORG:nasa") == rows[winner]["resolution"]
        read = record_fingerprint(rows[winner]["resolution"])


def test_an_entity_another_run_rewrote_is_not_folded_away(graph_driver, empty_graph):
    db = empty_graph.database
    old, new = record("PER:trump", ["t1"]), record("PER:donald trump", ["t2"])
    write_rows(graph_driver, [old, new], db)
    read = {r["key"]: record_fingerprint(r["resolution"]) for r in (old, new)}
    # Another run adds a post to PER:trump after this run read it.
    write_rows(graph_driver, [dict(record("PER:trump", ["t1", "t9"]), read=read["PER:trump"])], db)
    with pytest.raises(GraphChangedError, match="PER:trump"):
        apply_redirects(graph_driver, {"PER:trump": "PER:donald trump"}, db, read=read)
    assert stored(graph_driver, db, "PER:trump") is not None  # not deleted
    # Read afresh, the fold goes through.
    read["PER:trump"] = record_fingerprint(stored(graph_driver, db, "PER:trump"))
    assert apply_redirects(graph_driver, {"PER:trump": "PER:donald trump"}, db, read=read) == 1
    assert stored(graph_driver, db, "PER:trump") is None


def race(*work):
    """Runs each function in its own thread, started together; returns "done" or "refused" (a
    GraphChangedError) per function."""
    barrier, outcome = threading.Barrier(len(work)), {}

    def go(i):
        barrier.wait()
        try:
            work[i]()
            outcome[i] = "done"
        except GraphChangedError:
            outcome[i] = "refused"

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [outcome.get(i) for i in range(len(work))]


def test_a_fold_racing_a_rewrite_of_the_folded_entity_one_is_refused(graph_driver, empty_graph):
    db = empty_graph.database
    for round_ in range(4):
        old, new = record("PER:trump", ["t1"]), record("PER:donald trump", ["t2"])
        queries.run_cypher(graph_driver, "MATCH (n) DETACH DELETE n", None, db, write=True)
        write_rows(graph_driver, [old, new], db)
        read = {r["key"]: record_fingerprint(r["resolution"]) for r in (old, new)}
        rewrite = dict(record("PER:trump", ["t1", f"t{round_}"]), read=read["PER:trump"])
        fold_driver, write_driver = empty_graph.driver(), empty_graph.driver()
        try:
            outcome = race(lambda: apply_redirects(fold_driver, {"PER:trump": "PER:donald trump"}, db, read=read),
                           lambda: write_rows(write_driver, [rewrite], db))
        finally:
            fold_driver.close()
            write_driver.close()
        assert sorted(outcome) == ["done", "refused"], outcome
        if outcome[0] == "done":  # folded: the rewrite did not bring the entity back with its record
            assert stored(graph_driver, db, "PER:trump") is None
        else:
            assert stored(graph_driver, db, "PER:trump") == rewrite["resolution"]


def post(pid, *names):
    text = " and ".join(n for n, _ in names)
    ents, at = [], 0
    for n, t in names:
        ents.append(EntityMention(n, at, at + len(n), t))
        at += len(n) + 5
    return Post(pid, text, entities=tuple(ents))


T1 = post("t1", ("Trump", "PER"), ("White House", "ORG"))
T2 = post("t2", ("Donald Trump", "PER"), ("Trump", "PER"), ("White House", "ORG"))
T3 = post("t3", ("Trump", "PER"), ("White House", "ORG"), ("Senate", "ORG"))


def known_now(settings):
    driver = settings.driver()
    try:
        return KnownEntities.of_graph(*queries.entity_states(driver, settings.database))
    finally:
        driver.close()


def resolve_and_write(settings, posts, known):
    """What `mmkg run` does after the triples: resolve the posts' names against ``known`` (the
    graph as the run read it), write posts and entities, fold what resolution redirected."""

    def build(p):
        k = p | "Known" >> beam.Create([known])
        inputs = {"posts": p | "Posts" >> beam.Create(posts), "known": k}
        resolution = inputs | ResolveEntities()
        entities = {"resolution": resolution, "known": k} | EntityRows()
        out = {"posts": inputs["posts"], "resolution": resolution, "entities": entities} | WriteGraph(
            settings, batch_size=2)
        return {"dead": out["dead_letters"]}

    run_and_collect(build)


def entities_of(settings):
    driver = settings.driver()
    try:
        entities, _ = queries.entity_states(driver, settings.database)
    finally:
        driver.close()
    return sorted((e["key"], tuple(sorted(e["aliases"]))) for e in entities)


def test_a_run_that_read_the_graph_before_another_run_folded_an_entity_is_refused_then_reruns(empty_graph):
    resolve_and_write(empty_graph, [T1], KnownEntities())
    read_by_b = known_now(empty_graph)  # run B reads the graph: PER:trump
    resolve_and_write(empty_graph, [T2], known_now(empty_graph))  # run A folds PER:trump into Donald Trump
    assert "PER:trump" not in dict(entities_of(empty_graph))
    with pytest.raises(Exception, match="rewritten by another run"):
        resolve_and_write(empty_graph, [T3], read_by_b)  # run B writes what it resolved from its read
    resolve_and_write(empty_graph, [T3], known_now(empty_graph))  # run B again
    with_b = entities_of(empty_graph)

    # One run over all three posts, into the same store wiped.
    driver = empty_graph.driver()
    try:
        with driver.session(**empty_graph.session_kwargs()) as session:
            session.execute_write(lambda tx: tx.run("MATCH (n) DETACH DELETE n").consume())
    finally:
        driver.close()
    resolve_and_write(empty_graph, [T1, T2, T3], KnownEntities())
    assert with_b == entities_of(empty_graph)
    assert ("PER:donald trump", ("Donald Trump", "Trump")) in with_b


class _AfterTheRead(logging.Handler):
    """Calls ``action`` once, in the run's own thread, at the first transaction the run begins
    after it has read the graph's entities (the driver logs each statement at DEBUG): another run
    writing between this run's read and its writes."""

    def __init__(self, action):
        super().__init__(logging.DEBUG)
        self.action, self.read, self.fired = action, False, False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "MATCH (e:Entity) RETURN e.key, e.name" in message:
            self.read = True
        elif self.read and not self.fired and "C: BEGIN" in message:
            self.fired = True
            self.action()


def test_mmkg_run_says_another_run_changed_the_graph_and_its_rerun_completes(tmp_path, capsys):
    from mmkg.cli.run import main as run_main
    from mmkg.kg.embedded import graph_settings

    data = tmp_path / "data"
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_text(json.dumps({"id": "t1", "text": "Trump and White House", "entities": [
        {"text": "Trump", "start": 0, "end": 5, "type": "PER"},
        {"text": "White House", "start": 10, "end": 21, "type": "ORG"}]}) + "\n")
    second.write_text(json.dumps({"id": "t2", "text": "Donald Trump and Trump and White House", "entities": [
        {"text": "Donald Trump", "start": 0, "end": 12, "type": "PER"},
        {"text": "Trump", "start": 17, "end": 22, "type": "PER"},
        {"text": "White House", "start": 27, "end": 38, "type": "ORG"}]}) + "\n")
    argv = ["--llm", "none", "--min-confidence", "0", "--data-dir", str(data)]
    assert run_main(["--input", str(first), *argv]) == 0

    def other_run():  # a post t7 also says "Trump": PER:trump, which the second run folds, gets it
        with graph_settings(str(data), None, attach=True) as settings:
            driver = settings.driver()
            try:
                now = stored(driver, settings.database, "PER:trump")
                changed = json.loads(now)
                changed["aliases"][0]["posts"].append("t7")
                row = entity_row("PER:trump", changed["name"], "PER", [a["name"] for a in changed["aliases"]],
                                 json.dumps(changed, ensure_ascii=False, sort_keys=True), read=record_fingerprint(now))
                write_rows(driver, [row], settings.database)
            finally:
                driver.close()

    capsys.readouterr()
    driver_log, handler = logging.getLogger("neo4j"), _AfterTheRead(other_run)
    level = driver_log.level
    driver_log.setLevel(logging.DEBUG)
    driver_log.addHandler(handler)
    try:
        assert run_main(["--input", str(second), *argv]) == 3
    finally:
        driver_log.removeHandler(handler)
        driver_log.setLevel(level)
    assert handler.fired
    err = capsys.readouterr().err
    assert "mmkg run: 1 entity was rewritten by another run" in err and "PER:trump" in err
    assert "Traceback" not in err

    assert run_main(["--input", str(second), *argv]) == 0  # run again: it resolves against both
    with graph_settings(str(data), None) as settings:
        driver = settings.driver()
        try:
            assert stored(driver, settings.database, "PER:trump") is None  # folded this time
            entities, _ = queries.entity_states(driver, settings.database)
        finally:
            driver.close()
    trump = {e["key"]: e for e in entities}["PER:donald trump"]
    assert {"Donald Trump", "Trump"} <= set(trump["aliases"])
    # Nothing the other run wrote is lost: its post is among the folded name's.
    assert "t7" in next(a["posts"] for a in json.loads(trump["resolution"])["aliases"] if a["name"] == "Trump")


def test_mmkg_run_help_states_the_exit_status_of_a_changed_graph(capsys):
    from mmkg.cli.run import main as run_main

    with pytest.raises(SystemExit) as done:
        run_main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--min-confidence" in out and "\n  3  another run rewrote" in out


def test_the_refusal_is_recognised_in_the_error_a_multi_process_runner_raises():
    """The multi-process DirectRunner (and a portable runner) fails a job with a RuntimeError
    whose text is the worker's traceback; `mmkg run` finds the refusal in it and exits 3."""
    refusal = GraphChangedError.of(["PER:trump", "ORG:white house"])
    worker = (f"Traceback (most recent call last):\n  File \"kg/writer.py\", line 64, in refuse_changed_records\n"
              f"    raise GraphChangedError.of(changed)\nmmkg.kg.writer.GraphChangedError: {refusal} "
              f"[while running 'WriteGraph/WriteBatches']\n")
    assert GraphChangedError.message_in(RuntimeError(worker)) == str(refusal)
    assert GraphChangedError.message_in(refusal) == str(refusal)
    assert GraphChangedError.message_in(RuntimeError("Traceback ...\nValueError: bad batch")) is None
    assert GraphChangedError.message_in(RuntimeError(f"ValueError: {GraphChangedError.MARK}")) is None
