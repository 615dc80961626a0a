"""`mmkg run` end to end on the real DirectRunner (multi-process and portable runs: test_runners_local)."""
from __future__ import annotations

import glob
import json
import pathlib

import pyarrow.parquet as pq
import pytest

from mmkg.cli.run import main as run_main

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "posts.jsonl"


def pair_set(out_dir):
    rows = []
    for path in glob.glob(str(out_dir / "out" / "pairs-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return {(r["post_id"], r["head"], r["head_type"], r["tail"], r["tail_type"], r["image_id"]) for r in rows}


def dead_letters(out_dir):
    out = []
    for path in glob.glob(str(out_dir / "out" / "dead_letters-*.jsonl")):
        out += [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    return out


@pytest.fixture(scope="module")
def mixed_input(tmp_path_factory):
    """The example posts plus two bad lines."""
    d = tmp_path_factory.mktemp("in")
    lines = EXAMPLES.read_text().splitlines() + ['{"id": "broken"', json.dumps({"id": "e", "text": ""})]
    (d / "images").symlink_to(REPO / "examples" / "images")
    (d / "posts.jsonl").write_text("\n".join(lines) + "\n")
    return d / "posts.jsonl"


def run(input_path, data_dir, *extra):
    argv = ["--input", str(input_path), "--data-dir", str(data_dir), "--llm", "none", "--no-graph", *extra]
    assert run_main(argv) == 0


@pytest.fixture(scope="module")
def single(mixed_input, tmp_path_factory):
    d = tmp_path_factory.mktemp("single")
    run(mixed_input, d)
    return d


def test_single_process_run(single, capsys):
    pairs = pair_set(single)
    posts = {p[0] for p in pairs}
    assert len(posts) == 12 and len(pairs) > 12
    assert ("ex-05", "Lionel Messi", "PER", "Inter Miami", "ORG", None) in pairs
    reasons = sorted(d["reason"].split(":")[0] for d in dead_letters(single))
    assert reasons == ["empty text", "invalid JSON"]


def test_run_requires_input(capsys):
    assert run_main(["--llm", "none"]) == 2
    assert "--input is required" in capsys.readouterr().err


def test_distributed_runner_refuses_the_embedded_services(capsys):
    argv = ["--input", str(EXAMPLES), "--runner=DataflowRunner", "--project=p", "--region=europe-west1",
            "--temp_location=gs://bucket/tmp"]
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    assert "--neo4j-uri" in err and "--llm-base-url" in err
