"""`mmkg audit`: a sample drawn from a run's triples Parquet (written here with TRIPLE_SCHEMA, no
run needed), the sheet marked as a person would, and precision scored with Wilson intervals
checked against an independent computation; post texts and images from the real embedded store;
bad input is a usage error (exit 2) with a message."""
from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import pathlib
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmkg.cli.audit import main
from mmkg.kg.rows import post_row
from mmkg.kg.writer import write_rows
from mmkg.pipeline.audit import band_of, marked, wilson
from mmkg.schemas.arrow import TRIPLE_SCHEMA, triple_to_row
from mmkg.schemas.records import ImageRef, Post, Triple

LABELS = ["/per/org/member_of", "/per/per/peer", "/loc/loc/contain"]
BANDS = {"[0.0, 0.5)", "[0.5, 0.8)", "[0.8, 1.0]"}


def write_triples(data_dir, triples, name="triples-00000-of-00001.parquet"):
    os.makedirs(data_dir / "out", exist_ok=True)
    pq.write_table(pa.Table.from_pylist([triple_to_row(t) for t in triples], schema=TRIPLE_SCHEMA),
                   data_dir / "out" / name)


def sixty_triples():
    return [Triple(f"h{i}", "PER" if i % 3 != 2 else "LOC", LABELS[i % 3], f"t{i}",
                   {0: "ORG", 1: "PER", 2: "LOC"}[i % 3], (i % 10) / 10 + 0.05, "guide", f"p{i}")
            for i in range(60)]


@pytest.fixture()
def data_dir(tmp_path):
    write_triples(tmp_path, sixty_triples())
    return tmp_path


def read_sheet(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_sheet(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def wilson_by_inversion(k, n, z=1.96):
    """The Wilson interval as its definition: the p whose score test |k/n - p| / sqrt(p(1-p)/n)
    does not reject at z, its ends found by bisection (no closed form shared with the code)."""
    phat = k / n

    def score(p):
        return abs(phat - p) / math.sqrt(p * (1 - p) / n) - z

    def root(lo, hi):  # score(lo) and score(hi) of opposite signs
        for _ in range(200):
            mid = (lo + hi) / 2
            if (score(mid) > 0) == (score(lo) > 0):
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    eps = 1e-12
    low = 0.0 if k == 0 else root(eps, min(phat, 1 - eps))
    high = 1.0 if k == n else root(max(phat, eps), 1 - eps)
    return low, high


def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    for k, n in ((8, 10), (0, 5), (5, 5), (1, 3), (37, 100), (99, 100)):
        assert wilson(k, n) == pytest.approx(wilson_by_inversion(k, n), abs=1e-9), (k, n)


def test_sample_mark_and_score(data_dir, capsys):
    assert main(["sample", "--data-dir", str(data_dir), "--n", "12", "--by", "confidence", "--no-graph"]) == 0
    printed = capsys.readouterr().out
    sheet = data_dir / "audit" / "audit.csv"
    assert str(sheet) in printed and str(data_dir / "audit" / "audit.html") in printed
    rows = read_sheet(sheet)
    assert len(rows) == 12 and (data_dir / "audit" / "audit.html").exists()
    assert all(r["correct"] == "" for r in rows)
    assert {r["band"] for r in rows} == BANDS
    assert all(r["band"] == band_of(float(r["confidence"])) for r in rows)
    # A person marks the high band right, the rest wrong, in every accepted spelling, and leaves
    # one row blank.
    for i, r in enumerate(rows):
        r["correct"] = ("y", "yes", "1", "Y")[i % 4] if float(r["confidence"]) >= 0.8 else ("n", "no", "0", "N")[i % 4]
    rows[0]["correct"] = ""
    write_sheet(sheet, rows)
    assert main(["score", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "11 judged triples (1 left blank" in out
    high = next(line for line in out.splitlines() if line.startswith("confidence  [0.8"))
    assert "100.0%" in high

    assert main(["score", str(sheet), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["judged"] == 11 and report["blank"] == 1
    judged = [r for r in rows if r["correct"]]
    expect = {("all", "all"): judged}
    for r in judged:
        expect.setdefault(("label", r["relation"]), []).append(r)
        expect.setdefault(("confidence", r["band"]), []).append(r)
    assert {(g["by"], g["group"]) for g in report["rows"]} == set(expect)
    for g in report["rows"]:
        group = expect[(g["by"], g["group"])]
        k = sum(r["correct"].lower() in ("y", "yes", "1") for r in group)
        assert (g["n"], g["correct"]) == (len(group), k)
        assert g["precision"] == pytest.approx(k / len(group))
        assert (g["wilson_low"], g["wilson_high"]) == pytest.approx(wilson_by_inversion(k, len(group)), abs=1e-9)


def test_eight_of_ten_scores_the_known_interval(tmp_path, capsys):
    sheet = tmp_path / "marked.csv"
    write_sheet(sheet, [{"relation": "/per/per/peer", "confidence": "0.9", "correct": "y" if i < 8 else "n"}
                        for i in range(10)] + [{"relation": "/per/per/peer", "confidence": "0.9", "correct": " "}])
    assert main(["score", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "10 judged triples (1 left blank, not counted)" in out
    line = next(line for line in out.splitlines() if line.startswith("all"))
    assert "80.0%" in line and "[49.0, 94.3]" in line


def test_stratification_gives_every_stratum_rows(data_dir, capsys):
    def drawn(*flags):
        out = data_dir / "-".join(flags)
        assert main(["sample", "--data-dir", str(data_dir), "--out", str(out), "--no-graph", *flags]) == 0
        return read_sheet(out / "audit.csv")

    by_label = drawn("--n", "9", "--by", "label")
    assert sorted(r["relation"] for r in by_label) == sorted(LABELS * 3)
    by_band = drawn("--n", "9", "--by", "confidence")
    assert {b: sum(r["band"] == b for r in by_band) for b in BANDS} == {b: 3 for b in BANDS}
    # A stratum smaller than its share gives what it has, the others fill the sample.
    write_triples(data_dir, [Triple("a", "PER", "/per/loc/place_of_birth", "b", "LOC", 0.7, "llm", "q1")],
                  name="triples-00001-of-00002.parquet")
    rare = drawn("--n", "10", "--by", "label", "--seed", "1")
    assert len(rare) == 10 and sum(r["relation"] == "/per/loc/place_of_birth" for r in rare) == 1
    assert {r["relation"] for r in rare} == set(LABELS) | {"/per/loc/place_of_birth"}
    # Seeded: the same seed draws the same rows, another seed others; never a row twice.
    plain = drawn("--n", "20", "--seed", "3")
    assert plain == drawn("--n", "20", "--seed", "3")
    assert plain != drawn("--n", "20", "--seed", "4")
    assert len({(r["post_id"], r["head"], r["tail"]) for r in plain}) == 20
    # More asked than there are: all of them once; --min-confidence keeps the graph's cut.
    assert len(drawn("--n", "500")) == 61
    cut = drawn("--n", "500", "--min-confidence", "0.5")
    assert len(cut) == 31 and min(float(r["confidence"]) for r in cut) >= 0.5
    capsys.readouterr()


def test_marked_text_is_escaped_and_marks_head_and_tail():
    assert marked("Messi & Inter Miami", "Messi", "Inter Miami") == \
        '<mark class="h">Messi</mark> &amp; <mark class="t">Inter Miami</mark>'
    # The tail is never looked for inside the head's mark, nor inside the markup.
    assert marked("Miami Heat in Miami", "Miami Heat", "Miami") == \
        '<mark class="h">Miami Heat</mark> in <mark class="t">Miami</mark>'
    assert marked("h and class <b>", "h", "class") == \
        '<mark class="h">h</mark> and <mark class="t">class</mark> &lt;b&gt;'
    # Another case is found; a name not in the text is left unmarked.
    assert marked("RT LIONEL MESSI", "Lionel Messi", "Barcelona") == 'RT <mark class="h">LIONEL MESSI</mark>'


def test_sheet_shows_post_text_and_image_from_the_graph(empty_graph, graph_backend, graph_store, tmp_path, capsys,
                                                        monkeypatch):
    if graph_backend is not graph_store:
        pytest.skip("this test reads the embedded store under --data-dir; the Neo4j parametrisation has no data dir")
    image = tmp_path / "p1.png"
    Image.new("RGB", (400, 300), (200, 40, 40)).save(image)
    posts = [Post("p1", "Khalil Mack signs with the Detroit Lions", image=ImageRef("p1.png", path=str(image)),
                  source="test:1"),
             Post("p2", "Ada Lovelace was born in London", image=ImageRef("gone.png", path=str(tmp_path / "gone.png")),
                  source="test:2"),
             Post("p3", "Paris is in France", source="test:3")]
    driver = empty_graph.driver()
    try:
        write_rows(driver, [post_row(p) for p in posts], empty_graph.database)
    finally:
        driver.close()
    triples = [Triple("Khalil Mack", "PER", "/per/org/member_of", "Detroit Lions", "ORG", 0.91, "guide", "p1", "p1.png"),
               Triple("Ada Lovelace", "PER", "/per/loc/place_of_birth", "London", "LOC", 0.62, "llm", "p2", "gone.png"),
               Triple("France", "LOC", "/loc/loc/contain", "Paris", "LOC", 0.3, "guide", "p3"),
               Triple("X", "PER", "/per/per/peer", "Y", "PER", 0.5, "guide", "p-not-in-graph")]
    # The default path: the embedded store under --data-dir (here the fixture's, open, so attached).
    data_dir = graph_store.data_dir
    out_dir = os.path.join(data_dir, "out")
    assert not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir)
        write_triples(pathlib.Path(data_dir), triples)
        code = main(["sample", "--data-dir", data_dir, "--n", "10", "--out", str(tmp_path / "sheet")])
    finally:
        shutil.rmtree(out_dir)
    assert code == 0, capsys.readouterr().err
    page = (tmp_path / "sheet" / "audit.html").read_text(encoding="utf-8")
    rows = {re.search(r"<td>([^<]*)</td></tr>", r).group(1): r for r in page.split("<tr><td>")[1:]}
    assert set(rows) == {"p1", "p2", "p3", "p-not-in-graph"}  # the last column: the post id
    p1 = rows["p1"]
    assert '<mark class="h">Khalil Mack</mark> signs with the <mark class="t">Detroit Lions</mark>' in p1
    assert "<td>/per/org/member_of</td>" in p1 and "<td>0.910</td>" in p1 and "<td>guide</td>" in p1
    thumb = re.search(r'src="data:image/jpeg;base64,([^"]+)"', p1).group(1)
    with Image.open(io.BytesIO(base64.b64decode(thumb))) as im:
        assert max(im.size) <= 160 and im.getpixel((10, 10))[0] > 150
    p2 = rows["p2"]
    assert "(image not found)" in p2 and "<td>llm</td>" in p2
    p3 = rows["p3"]
    assert "(no image)" in p3 and '<mark class="t">Paris</mark> is in <mark class="h">France</mark>' in p3
    assert "(post text not in the graph)" in rows["p-not-in-graph"]
    assert len(read_sheet(tmp_path / "sheet" / "audit.csv")) == 4

    # A graph that refuses the connection (here a wrong password): said, and the sheet still comes.
    write_triples(tmp_path / "run", triples)
    monkeypatch.setenv("NEO4J_PASSWORD", "not-the-password")
    code = main(["sample", "--data-dir", str(tmp_path / "run"), "--neo4j-uri", empty_graph.uri,
                 "--neo4j-username", empty_graph.username, "--neo4j-database", empty_graph.database])
    err = capsys.readouterr().err
    assert code == 0 and "the graph did not answer" in err and "not-the-password" not in err
    assert "(post text not in the graph)" in (tmp_path / "run" / "audit" / "audit.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("content, message", [
    ("relation,confidence,correct\n/per/per/peer,0.5,maybe\n", "correct must be y/n, yes/no, 1/0 or blank"),
    ("relation,confidence,correct\n/per/per/peer,0.5,true\n", "correct must be y/n, yes/no, 1/0 or blank"),
    ("relation,confidence,correct\n/per/per/peer,high,y\n", ":2: confidence is not a number"),
    ("relation,correct\n/per/per/peer,y\n", "not an audit sheet (no column confidence)"),
    ("relation,confidence,correct\n/per/per/peer,0.5,\n", "no row is marked yet"),
    ("", "not an audit sheet"),
])
def test_bad_sheets_are_usage_errors(tmp_path, capsys, content, message):
    sheet = tmp_path / "bad.csv"
    sheet.write_text(content, encoding="utf-8")
    assert main(["score", str(sheet)]) == 2
    assert message in capsys.readouterr().err


def test_bad_input_is_a_usage_error(tmp_path, data_dir, capsys):
    def refused(argv, message):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert message in captured.err and "Traceback" not in captured.err, captured.err

    refused(["sample", "--data-dir", str(tmp_path / "none")], f"no data dir {tmp_path / 'none'}")
    (tmp_path / "empty" / "out").mkdir(parents=True)
    refused(["sample", "--data-dir", str(tmp_path / "empty")], "no triples in")
    write_triples(tmp_path / "zero", [])
    refused(["sample", "--data-dir", str(tmp_path / "zero")], "wrote no triples: nothing to audit")
    refused(["sample", "--data-dir", str(data_dir), "--min-confidence", "0.99"], "no triples at or above confidence 0.99")
    (tmp_path / "junk" / "out").mkdir(parents=True)
    (tmp_path / "junk" / "out" / "triples-0.parquet").write_bytes(b"not parquet")
    refused(["sample", "--data-dir", str(tmp_path / "junk")], "cannot read the triples")
    refused(["sample", "--data-dir", str(data_dir), "--n", "0"], "--n must be at least 1")
    refused(["score", str(tmp_path / "missing.csv")], "no such sheet")
    (tmp_path / "latin1.csv").write_bytes("relation,confidence,correct\n/per/per/peer,0.5,n\xe9\n".encode("latin-1"))
    refused(["score", str(tmp_path / "latin1.csv")], "not UTF-8")
