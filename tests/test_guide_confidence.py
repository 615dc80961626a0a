"""Platt scaling of the guide's confidence: it recovers a known map, composes, and a run applies
the map stored beside its checkpoint only for the weights it was fitted on."""
from __future__ import annotations

import math
import random
import shutil

import pytest

from mmkg.guide.confidence import (
    IDENTITY,
    ConfidenceMap,
    expected_calibration_error,
    fit_platt,
    load_map,
    save_map,
    weights_sha256,
)
from mmkg.guide.settings import DEFAULT_CHECKPOINT


def test_fit_recovers_a_known_map_and_lowers_the_calibration_error():
    rng = random.Random(0)
    truth = ConfidenceMap(0.4, -1.2)
    probs = [rng.uniform(0.05, 0.999) for _ in range(4000)]
    correct = [rng.random() < truth(p) for p in probs]
    a, b = fit_platt(probs, correct)
    assert a == pytest.approx(0.4, abs=0.08) and b == pytest.approx(-1.2, abs=0.15)
    fitted = ConfidenceMap(a, b)
    assert expected_calibration_error([fitted(p) for p in probs], correct) < expected_calibration_error(probs, correct) / 3


def test_maps_compose():
    first, (a, b) = ConfidenceMap(0.5, 0.3), (2.0, -1.0)
    both = first.then(a, b)
    for p in (0.1, 0.5, 0.93):
        z = math.log(first(p) / (1 - first(p)))
        assert both(p) == pytest.approx(1 / (1 + math.exp(-(a * z + b))))


def test_a_map_is_used_only_with_the_weights_it_was_fitted_for(tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_CHECKPOINT, ckpt)
    assert load_map(str(ckpt)) == IDENTITY  # the benchmark guide has no map
    save_map(str(ckpt), ConfidenceMap(0.3, -1.0, guide_weights_sha256=weights_sha256(str(ckpt))))
    assert load_map(str(ckpt)).a == 0.3
    save_map(str(ckpt), ConfidenceMap(0.3, -1.0, guide_weights_sha256="0" * 64))
    assert load_map(str(ckpt)) == IDENTITY


def test_a_run_states_each_guide_triple_through_its_checkpoints_map(tmp_path):
    """`mmkg run` on the real DirectRunner, the same posts and weights twice: without a map and
    with one. Every triple the guide decided carries map(raw confidence); nothing else moves."""
    import glob
    import json

    import pyarrow.parquet as pq

    from mmkg.cli.run import main as run_main
    from mmkg.guide.settings import CANDIDATES_CHECKPOINT

    ckpt = tmp_path / "ckpt"
    shutil.copytree(CANDIDATES_CHECKPOINT, ckpt)
    (ckpt / "confidence.json").unlink()
    posts = tmp_path / "posts.jsonl"
    texts = ["Serena Williams beat Venus Williams at Wimbledon in London.",
             "Elon Musk said Tesla will open a factory in Berlin, Germany.",
             "Taylor Swift and Ed Sheeran played Wembley Stadium in London last night."]
    posts.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(texts)))

    def triples(name):
        argv = ["--input", str(posts), "--data-dir", str(tmp_path / name), "--llm", "none", "--no-graph",
                "--no-place-check", "--checkpoint", str(ckpt)]
        assert run_main(argv) == 0
        rows = pq.read_table(glob.glob(str(tmp_path / name / "out" / "triples-*.parquet"))).to_pylist()
        return {(r["post_id"], r["head"], r["relation"], r["tail"]): r for r in rows}

    raw = triples("raw")
    cmap = ConfidenceMap(0.5, -1.0, guide_weights_sha256=weights_sha256(str(ckpt)))
    save_map(str(ckpt), cmap)
    mapped = triples("mapped")
    assert raw and mapped.keys() == raw.keys()
    for key, r in raw.items():
        assert r["decided_by"] == "guide"
        assert mapped[key]["confidence"] == pytest.approx(cmap(r["confidence"]), abs=1e-6)
        assert mapped[key]["confidence"] != pytest.approx(r["confidence"], abs=1e-3)
