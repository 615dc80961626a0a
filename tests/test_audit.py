"""`mmkg audit`: a sample drawn from a run's triples Parquet, the sheet marked as a person would,
and precision scored with Wilson intervals; bad sheets are usage errors."""
from __future__ import annotations

import csv
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmkg.cli.audit import main
from mmkg.pipeline.audit import band_of, wilson
from mmkg.schemas.arrow import TRIPLE_SCHEMA, triple_to_row
from mmkg.schemas.records import Triple


@pytest.fixture()
def data_dir(tmp_path):
    labels = ["/per/org/member_of", "/per/per/peer", "/loc/loc/contain"]
    triples = [Triple(f"h{i}", "PER" if i % 3 != 2 else "LOC", labels[i % 3], f"t{i}",
                      {0: "ORG", 1: "PER", 2: "LOC"}[i % 3], (i % 10) / 10 + 0.05, "guide", f"p{i}")
               for i in range(60)]
    os.makedirs(tmp_path / "out")
    pq.write_table(pa.Table.from_pylist([triple_to_row(t) for t in triples], schema=TRIPLE_SCHEMA),
                   tmp_path / "out" / "triples-00000-of-00001.parquet")
    return tmp_path


def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


def test_sample_mark_and_score(data_dir, capsys):
    assert main(["sample", "--data-dir", str(data_dir), "--n", "12", "--by", "confidence"]) == 0
    sheet = data_dir / "audit" / "audit.csv"
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert len(rows) == 12 and (data_dir / "audit" / "audit.html").exists()
    assert {band_of(float(r["confidence"])) for r in rows} == {"[0.0, 0.5)", "[0.5, 0.8)", "[0.8, 1.0]"}
    # A person marks the high band right and the rest wrong, and leaves one row blank.
    for r in rows:
        r["correct"] = "y" if float(r["confidence"]) >= 0.8 else "n"
    rows[0]["correct"] = ""
    with sheet.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    capsys.readouterr()
    assert main(["score", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "11 judged triples (1 left blank" in out
    high = next(line for line in out.splitlines() if line.startswith("confidence  [0.8"))
    assert "100.0%" in high


def test_bad_input_is_a_usage_error(tmp_path, data_dir, capsys):
    assert main(["sample", "--data-dir", str(tmp_path / "none")]) == 2
    sheet = tmp_path / "bad.csv"
    sheet.write_text("relation,confidence,correct\n/per/per/peer,0.5,maybe\n", encoding="utf-8")
    assert main(["score", str(sheet)]) == 2
    assert "correct must be y or n" in capsys.readouterr().err
