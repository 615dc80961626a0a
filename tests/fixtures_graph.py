"""The real embedded graph store (ArcadeDB with its Bolt plugin on 127.0.0.1), once per session.

``graph_store``: the running :class:`kg.embedded.EmbeddedGraphStore` (its ``settings`` are what
the neo4j driver needs). ``empty_graph``: the same store wiped (data only; constraints stay),
yielding the settings; ``graph_driver``: a driver on it, closed after the test.
"""
from __future__ import annotations

import pytest

from mmkg.kg.embedded import EmbeddedGraphStore
from mmkg.kg.schema import ensure_schema


@pytest.fixture(scope="session")
def graph_store(tmp_path_factory):
    store = EmbeddedGraphStore(str(tmp_path_factory.mktemp("mmkg-data")))
    store.start()
    yield store
    store.stop()


@pytest.fixture
def empty_graph(graph_store):
    settings = graph_store.settings
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
