"""Connection settings and the embedded store: secrets, loopback only, one owner, restart, quiet."""
from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
import textwrap

import pytest

from mmkg.kg.embedded import EmbeddedGraphStore, StoreBusyError
from mmkg.pipeline.options import graph_from_options, graph_from_values
from tests.conftest import REPO


def test_settings_come_from_flags_then_env_and_never_show_the_password():
    env = {"NEO4J_URI": "bolt://db:7687", "NEO4J_USERNAME": "u", "NEO4J_PASSWORD": "s3cret-pw", "NEO4J_DATABASE": "kg"}
    s = graph_from_values(None, None, None, env)
    assert (s.uri, s.username, s.password, s.database) == ("bolt://db:7687", "u", "s3cret-pw", "kg")
    assert graph_from_values("bolt://other:1", "v", None, env).uri == "bolt://other:1"
    assert graph_from_values(None, None, None, {}) is None  # -> the embedded store

    class Opts:
        neo4j_uri, neo4j_username, neo4j_database = "neo4j://x:7687", None, None

    assert graph_from_options(Opts(), env).username == "u"
    for text in (repr(s), str(s), f"{s}", repr([s]), repr(pickle.loads(pickle.dumps(s)))):
        assert "s3cret-pw" not in text
    assert pickle.loads(pickle.dumps(s)) == s  # what a Beam worker in another process receives


def test_store_is_private_to_this_machine_and_to_its_owner(graph_store):
    settings = graph_store.settings
    # (That every socket the store listens on is loopback is checked in tests/test_security.py.)
    assert settings.uri.startswith("bolt://127.0.0.1:")
    creds = os.path.join(graph_store.root, "credentials.json")
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    assert len(settings.password) >= 24 and json.load(open(creds))["password"] == settings.password

    with pytest.raises(StoreBusyError, match=str(os.getpid())):
        EmbeddedGraphStore(graph_store.data_dir).start()
    other = EmbeddedGraphStore(graph_store.data_dir, attach=True)
    assert other.start() == settings
    other.stop()  # detaching leaves the owner's server running
    driver = settings.driver()
    try:
        assert driver.execute_query("RETURN 1 AS one", database_=settings.database).records[0]["one"] == 1
    finally:
        driver.close()


def test_restart_on_the_same_data_dir_keeps_the_graph_and_the_clients(tmp_path):
    store = EmbeddedGraphStore(str(tmp_path / "data"))
    settings = store.start()
    driver = settings.driver()
    try:
        driver.execute_query("CREATE (:Post {id: 'kept'})", database_=settings.database)
        store.stop()
        assert not store.running
        assert store.start() == settings  # same port, same password
        # The driver's pooled connection died with the old server; execute_query retries.
        records = driver.execute_query("MATCH (p:Post) RETURN p.id AS id", database_=settings.database).records
        assert [r["id"] for r in records] == ["kept"]
    finally:
        driver.close()
        store.stop()
    assert not os.path.exists(os.path.join(store.root, "endpoint.json"))


def test_a_fresh_process_opens_the_store_quietly_and_sees_the_owner(graph_store, tmp_path):
    """In a clean process (as `mmkg run` is): nothing from Java on the console, no ./log in the
    working directory, a clear error for a store another process holds."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from mmkg.kg.embedded import EmbeddedGraphStore, StoreBusyError
        try:
            EmbeddedGraphStore({graph_store.data_dir!r}).start()
        except StoreBusyError as e:
            print("busy:", e)
        with EmbeddedGraphStore("own-data") as store:
            d = store.settings.driver()
            d.execute_query("CREATE (:Post {{id: 'x'}})", database_=store.settings.database)
            n = d.execute_query("MATCH (p:Post) RETURN count(p) AS n", database_=store.settings.database)
            d.close()
            print("posts:", n.records[0]["n"])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("busy: ") and str(os.getpid()) in lines[0]
    assert lines[1:] == ["posts: 1"]
    assert proc.stderr == ""
    assert sorted(os.listdir(tmp_path)) == ["own-data"]  # no ./log, no stray files
    assert os.path.exists(tmp_path / "own-data" / "graph" / "log" / "arcadedb.log.0")
