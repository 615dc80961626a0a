"""The real graph stores, once per session: the embedded ArcadeDB (its Bolt plugin on 127.0.0.1)
and a real Neo4j (neo4j-harness in its own JVM on 127.0.0.1, see tests/services.py).

``graph_store``: the running :class:`kg.embedded.EmbeddedGraphStore` (its ``settings`` are what
the neo4j driver needs). ``neo4j_server``: the running :class:`tests.services.Neo4jServer` (skips,
saying why, where Java or the fetched harness is absent). ``graph_backend``: one of the two, each
test that uses it runs against both ("arcadedb", "neo4j"). ``empty_graph``: that store wiped (data
only; constraints stay), yielding the settings; ``graph_driver``: a driver on it, closed after the
test.
"""
from __future__ import annotations

import pytest

from mmkg.kg.embedded import EmbeddedGraphStore
from mmkg.kg.schema import ensure_schema
from tests import services

GRAPH_BACKENDS = ("arcadedb", "neo4j")


@pytest.fixture(scope="session")
def graph_store(tmp_path_factory):
    store = EmbeddedGraphStore(str(tmp_path_factory.mktemp("mmkg-data")))
    store.start()
    yield store
    store.stop()


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory):
    reason = services.missing("neo4j")
    if reason:
        pytest.skip(f"no real Neo4j: {reason}")
    server = services.Neo4jServer(str(tmp_path_factory.mktemp("neo4j")))
    server.start()
    yield server
    server.stop(graceful=True)


@pytest.fixture(scope="session", params=GRAPH_BACKENDS)
def graph_backend(request):
    """The running store of this parametrisation (the same interface: settings, start, stop)."""
    return request.getfixturevalue("graph_store" if request.param == "arcadedb" else "neo4j_server")


@pytest.fixture
def empty_graph(graph_backend):
    settings = graph_backend.settings
    driver = settings.driver()
    try:
        with driver.session(**settings.session_kwargs()) as session:
            session.execute_write(lambda tx: tx.run("MATCH (n) DETACH DELETE n").consume())
        ensure_schema(driver, settings.database)
    finally:
        driver.close()
    return settings


@pytest.fixture
def graph_driver(empty_graph):
    driver = empty_graph.driver()
    yield driver
    driver.close()
