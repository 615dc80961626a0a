"""`mmkg run --neo4j-uri bolt://127.0.0.1:PORT` into a real Neo4j (the harness in its own JVM,
password from NEO4J_PASSWORD) writes the same graph as a run into the embedded ArcadeDB store."""
from __future__ import annotations

import pathlib

from mmkg.cli.run import main as run_main
from mmkg.kg import queries
from mmkg.kg.embedded import EmbeddedGraphStore
from tests.test_resolve_pipeline import melania_posts, support, trump_posts

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


def _clear(settings):
    driver = settings.driver()
    try:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=settings.database)
    finally:
        driver.close()


def _raw_snapshot(settings):
    driver = settings.driver()
    try:
        return queries.graph_snapshot(driver, settings.database)
    finally:
        driver.close()


def _two_runs_into_neo4j_and_one_whole(neo4j_server, tmp_path, monkeypatch, one, two):
    """Posts ``one`` then ``two`` into the Neo4j harness (cleared first), and ``one + two`` in one
    run into the embedded store: the three graph snapshots (Neo4j after run 1, after run 2, whole)."""
    for name, lines in (("one", one), ("two", two), ("both", one + two)):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    settings = neo4j_server.settings
    _clear(settings)
    monkeypatch.setenv("NEO4J_PASSWORD", settings.password)
    common = ["--llm", "none", "--min-confidence", "0"]
    neo4j = ["--data-dir", str(tmp_path / "neo4j"), "--neo4j-uri", settings.uri, "--neo4j-username",
             settings.username, "--neo4j-database", settings.database]
    snaps = []
    for part in ("one", "two"):
        assert run_main(["--input", str(tmp_path / f"{part}.jsonl"), *common, *neo4j]) == 0
        snaps.append(_raw_snapshot(settings))
    assert run_main(["--input", str(tmp_path / "both.jsonl"), *common, "--data-dir", str(tmp_path / "whole")]) == 0
    with EmbeddedGraphStore(str(tmp_path / "whole")) as store:
        snaps.append(_raw_snapshot(store.settings))
    return snaps


def test_resolution_against_neo4j_folds_a_renamed_entity_like_one_run(neo4j_server, tmp_path, monkeypatch):
    """Incremental resolution on a real Neo4j: run 1 knows only "Trump"; run 2 brings "Donald
    Trump" beside "Trump". Run 2 reads the entities back from Neo4j, re-points run 1's mention
    and edges to PER:donald trump and deletes PER:trump (the redirect statements); the graph then
    equals one run over both posts into the embedded store."""
    first, seq, whole = _two_runs_into_neo4j_and_one_whole(neo4j_server, tmp_path, monkeypatch, *trump_posts())
    assert any(ident == "PER:trump" for _, ident, _ in first["nodes"])
    idents = {ident for _, ident, _ in seq["nodes"]}
    assert "PER:trump" not in idents and "PER:donald trump" in idents
    ends = {(s, e) for _, s, e, _ in seq["relationships"]}
    assert ("t1", "PER:donald trump") in ends  # run 1's mention, re-pointed on Neo4j
    assert ends == {(s, e) for _, s, e, _ in whole["relationships"]}
    entity_keys = sorted(ident for label, ident, _ in seq["nodes"] if label == "Entity")
    assert entity_keys == sorted(ident for label, ident, _ in whole["nodes"] if label == "Entity")


def test_a_split_off_name_takes_its_posts_along_on_neo4j(neo4j_server, tmp_path, monkeypatch):
    """The move statements on a real Neo4j: "Trump" joins "Donald Trump" in run 1 and leaves when
    "Melania Trump" arrives in run 2; the facts with their posts equal one run over all posts."""
    first, seq, whole = _two_runs_into_neo4j_and_one_whole(neo4j_server, tmp_path, monkeypatch, *melania_posts())
    assert ("MENTIONS", "c", "PER:donald trump") in support(first)
    assert ("MENTIONS", "c", "PER:trump") in support(seq)
    assert support(seq) == support(whole)
