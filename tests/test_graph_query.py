"""`mmkg query` against the real embedded store: through an explicit Bolt URI (as for a real
Neo4j) and through --data-dir (the embedded store, here attached to the fixture's server)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from mmkg.cli import query as query_cli
from mmkg.schemas.records import Triple
from mmkg.schemas.relations import relation_type_name
from tests.test_graph_write import mnre_sample, write

PER_COLOUR = (0xE4, 0x57, 0x56)
POST_COLOUR = (0xF2, 0xCF, 0x5B)


@pytest.fixture
def filled(empty_graph):
    posts, triples = mnre_sample()
    triples.append(Triple("Bill Cosby", "PER", "/per/org/member_of", "NBC", "ORG", 0.42, "llm", posts[3].post_id,
                          posts[3].image.image_id, "guide-test", "smollm"))
    write(empty_graph, posts, triples)
    return empty_graph, posts, triples


def bolt_args(settings, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", settings.password)
    return ["--neo4j-uri", settings.uri, "--neo4j-username", settings.username, "--neo4j-database", settings.database]


def run(argv, capsys):
    code = query_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_stats_counts_labels_and_relation_types(filled, graph_backend, graph_store, capsys, monkeypatch):
    settings, posts, triples = filled
    code, out, err = run(bolt_args(settings, monkeypatch) + ["stats"], capsys)
    assert code == 0, err
    table = {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()[2:-1]}
    assert table[("node", "Post")] == len(posts)
    assert table[("relationship", "MEMBER_OF")] >= 1
    assert ("relationship", "HAS_IMAGE") in table
    if graph_backend is not graph_store:  # Neo4j: --data-dir names the embedded store only
        return
    # The same through --data-dir: the embedded store (here: the fixture's, which is open).
    code, out2, err = run(["--data-dir", graph_store.data_dir, "stats"], capsys)
    assert code == 0, err
    assert out2 == out
    assert settings.password not in out + out2 + err


def test_entity_lists_relations_with_confidence_and_posts(filled, capsys, monkeypatch):
    settings, posts, _ = filled
    code, out, err = run(bolt_args(settings, monkeypatch) + ["entity", "bill", "COSBY"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "entity: Bill Cosby (PER)"
    member = [line for line in out.splitlines() if "MEMBER_OF" in line]
    assert len(member) == 1 and "NBC" in member[0] and "0.420" in member[0] and posts[3].post_id in member[0]
    assert "PRESENT_IN" in out

    code, _, err = run(bolt_args(settings, monkeypatch) + ["entity", "Cosb"], capsys)
    assert code == 1 and "no entity named 'Cosb'" in err and "Bill Cosby" in err


def test_evidence_names_posts_and_images(filled, capsys, monkeypatch):
    settings, posts, triples = filled
    t = triples[0]
    code, out, err = run(bolt_args(settings, monkeypatch) + ["evidence", t.head, relation_type_name(t.relation).lower(),
                                                             t.tail], capsys)
    assert code == 0, err
    assert t.post_id in out and t.image_id in out
    code, _, err = run(bolt_args(settings, monkeypatch) + ["evidence", t.head, "FRIEND_OF", t.tail], capsys)
    assert code == 2 and "unknown relation" in err


def test_cypher_with_parameters(filled, capsys, monkeypatch):
    settings, posts, _ = filled
    ids = json.dumps([posts[0].post_id, posts[1].post_id])
    argv = bolt_args(settings, monkeypatch) + [
        "MATCH (p:Post) WHERE p.id IN $ids RETURN p.id AS id ORDER BY id", "-p", f"ids={ids}"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["id"] and sorted(lines[2:4]) == sorted([posts[0].post_id, posts[1].post_id])
    assert lines[-1] == "(2 rows)"
    code, _, err = run(bolt_args(settings, monkeypatch) + ["MATCH (n RETURN n"], capsys)
    assert code == 1 and err.startswith("mmkg query:")


def test_query_needs_an_existing_graph(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    code, _, err = run(["--data-dir", str(tmp_path / "none"), "stats"], capsys)
    assert code == 1 and "no graph" in err


def test_show_writes_an_offline_page_that_renders(filled, tmp_path, capsys, monkeypatch):
    settings, _, _ = filled
    page = tmp_path / "cosby.html"
    code, out, err = run(bolt_args(settings, monkeypatch) + ["show", "Bill Cosby", "--html", str(page)], capsys)
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert "new vis.Network" in html and "Bill Cosby" in html and "data:image/jpeg;base64," in html
    assert not re.search(r"<(script|link)[^>]*(src|href)=\"https?:", html)  # nothing to fetch

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium): page not rendered")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,760",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000", f"--screenshot={shot}",
         page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    import numpy as np
    from PIL import Image

    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.int16)

    def near(colour):
        return int((np.abs(pixels - np.array(colour)).max(axis=-1) <= 12).sum())

    drawn = (near(PER_COLOUR), near(POST_COLOUR))
    assert drawn[0] > 30 and drawn[1] > 20, (drawn, str(shot))  # the entity and the posts mentioning it
