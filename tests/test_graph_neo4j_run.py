"""`mmkg run --neo4j-uri bolt://127.0.0.1:PORT` into a real Neo4j (the harness in its own JVM,
password from NEO4J_PASSWORD) writes the same graph as a run into the embedded ArcadeDB store."""
from __future__ import annotations

import pathlib

import pytest

from mmkg.kg import queries
from mmkg.kg.embedded import EmbeddedGraphStore
from mmkg.cli.run import main as run_main

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "posts.jsonl"


def snapshot(settings):
    driver = settings.driver()
    try:
        snap = queries.graph_snapshot(driver, settings.database)
    finally:
        driver.close()
    # Model scores may differ in the last digits between two runs (batches are formed anew).
    def norm(props):
        return tuple((k, round(v, 4) if isinstance(v, float) else v) for k, v in props)

    return ([(label, ident, norm(p)) for label, ident, p in snap["nodes"]],
            [(t, s, e, norm(p)) for t, s, e, p in snap["relationships"]])


def test_run_into_neo4j_writes_the_same_graph_as_the_embedded_store(neo4j_server, tmp_path, monkeypatch, capsys):
    settings = neo4j_server.settings
    driver = settings.driver()
    try:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=settings.database)
    finally:
        driver.close()
    common = ["--input", str(EXAMPLES), "--llm", "none"]

    assert run_main(common + ["--data-dir", str(tmp_path / "embedded")]) == 0
    with EmbeddedGraphStore(str(tmp_path / "embedded")) as store:
        embedded = snapshot(store.settings)

    monkeypatch.setenv("NEO4J_PASSWORD", settings.password)
    argv = common + ["--data-dir", str(tmp_path / "neo4j"), "--neo4j-uri", settings.uri,
                     "--neo4j-username", settings.username, "--neo4j-database", settings.database]
    assert run_main(argv) == 0
    out = capsys.readouterr().out
    assert settings.password not in out
    real = snapshot(settings)

    labels = {n[0] for n in real[0]}
    assert {"Post", "Entity"} <= labels and len(real[1]) > len(real[0]) // 2, (labels, len(real[1]))
    assert real == embedded
    assert not (tmp_path / "neo4j" / "graph").exists()  # no embedded store was opened for that run
