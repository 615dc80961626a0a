"""`mmkg run` on the runners of this machine: DirectRunner in one process, DirectRunner with two
worker processes (every DoFn pickled into another interpreter), and PortableRunner submitting
through Beam's job API to a local job service. All three must write the same outputs."""
from __future__ import annotations

import collections
import glob
import json
import math
import os
import pathlib
import re
import tempfile

import pyarrow.parquet as pq
import pytest

from mmkg.cli.run import main as run_main

REPO = pathlib.Path(__file__).resolve().parents[1]
IMAGES = sorted((REPO / "examples" / "images").glob("*.jpg"))

PEOPLE = ["Ada Lovelace", "Lionel Messi", "Angela Merkel", "Serena Williams", "Elon Musk", "Taylor Swift"]
ORGS = ["Inter Miami", "SpaceX", "the Bundestag", "Harvard University"]
PLACES = ["Berlin", "Florida", "London", "Texas"]


def make_post(i: int) -> dict:
    """A post whose entities are given, so no worker needs to load the NER model."""
    person, org, place = PEOPLE[i % len(PEOPLE)], ORGS[i % len(ORGS)], PLACES[(i // 2) % len(PLACES)]
    text = f"{person} joined {org} in {place} (post {i})."
    entities = []
    for name, etype in ((person, "PER"), (org, "ORG"), (place, "LOC")):
        start = text.index(name)
        entities.append({"text": name, "start": start, "end": start + len(name), "type": etype})
    post = {"id": f"r{i:03d}", "text": text, "entities": entities}
    if i % 3 == 0:
        post["image"] = str(IMAGES[i % len(IMAGES)])
    return post


BAD_LINES = ['{"id": "broken", "text": ', json.dumps({"id": "empty", "text": "  "})]
N_GOOD = 30


@pytest.fixture(scope="module", autouse=True)
def workers_import_the_repo():
    """Worker processes import mmkg's modules by name; they find them through PYTHONPATH."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), old) if p)
    yield
    if old is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def posts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("runner-in") / "posts.jsonl"
    lines = [json.dumps(make_post(i)) for i in range(N_GOOD)]
    lines[7:7] = BAD_LINES[:1]
    lines[20:20] = BAD_LINES[1:]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(posts_file, data_dir, *runner_flags):
    argv = ["--input", str(posts_file), "--data-dir", str(data_dir), "--llm", "none", "--no-graph"]
    assert run_main(argv + list(runner_flags)) == 0


def parquet_outputs(data_dir):
    """Rows of every Parquet output (pairs now; triples too once scoring is wired in), by name."""
    tables = collections.defaultdict(list)
    for path in glob.glob(os.path.join(data_dir, "out", "*.parquet")):
        name = re.sub(r"-\d{5}-of-\d{5}.*$", "", os.path.basename(path))
        tables[name] += pq.read_table(path).to_pylist()
    return dict(tables)


def dead_letter_set(data_dir):
    out = set()
    for path in glob.glob(os.path.join(data_dir, "out", "dead_letters-*.jsonl")):
        for line in open(path, encoding="utf-8"):
            if line.strip():
                d = json.loads(line)
                out.add((d["source"].rsplit(":", 1)[-1], d["reason"]))
    return out


def assert_same_rows(a, b, name):
    """Equal as multisets; floats (model scores) may differ in the last digits because batches
    are formed differently in each run, so they are compared with a tolerance."""
    def split(row):
        exact = tuple(sorted((k, v) for k, v in row.items() if not isinstance(v, float)))
        floats = tuple(v for k, v in sorted(row.items()) if isinstance(v, float))
        return exact, floats

    def index(rows):
        by_key = collections.defaultdict(list)
        for row in rows:
            exact, floats = split(row)
            by_key[exact].append(floats)
        return {k: sorted(v) for k, v in by_key.items()}

    ia, ib = index(a), index(b)
    assert ia.keys() == ib.keys(), f"{name}: rows differ: {set(ia) ^ set(ib)}"
    for key in ia:
        for fa, fb in zip(ia[key], ib[key]):
            assert all(math.isclose(x, y, abs_tol=1e-3) for x, y in zip(fa, fb)), (name, key, fa, fb)
        assert len(ia[key]) == len(ib[key]), (name, key)


def assert_same_outputs(reference, other):
    ref, got = parquet_outputs(reference), parquet_outputs(other)
    assert ref.keys() == got.keys()
    for name in ref:
        assert_same_rows(ref[name], got[name], name)
    assert dead_letter_set(reference) == dead_letter_set(other)


@pytest.fixture(scope="module")
def single_process(posts_file, tmp_path_factory):
    d = tmp_path_factory.mktemp("single")
    run(posts_file, d)
    return d


def test_single_process_direct_run_writes_every_good_post(single_process):
    outputs = parquet_outputs(single_process)
    pairs = outputs["pairs"]
    assert {r["post_id"] for r in pairs} == {f"r{i:03d}" for i in range(N_GOOD)}
    # person->org, person->place and org->place in both directions where a relation allows it.
    assert ("r001", "Lionel Messi", "SpaceX") in {(r["post_id"], r["head"], r["tail"]) for r in pairs}
    with_image = {r["post_id"] for r in pairs if r["image_id"]}
    assert with_image == {f"r{i:03d}" for i in range(0, N_GOOD, 3)}
    reasons = sorted(reason.split(":")[0] for _, reason in dead_letter_set(single_process))
    assert reasons == ["empty text", "invalid JSON"]


def test_multi_process_direct_run_gives_the_same_output(single_process, posts_file, tmp_path):
    run(posts_file, tmp_path, "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    assert_same_outputs(single_process, tmp_path)


def test_portable_runner_through_the_job_service_gives_the_same_output(
    single_process, posts_file, job_service, tmp_path, monkeypatch
):
    # The run's temporary files go under a directory of this test's, to see what the run leaves.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    run(
        posts_file,
        out,
        "--runner=PortableRunner",
        f"--job_endpoint={job_service}",
        "--environment_type=LOOPBACK",
    )
    assert_same_outputs(single_process, out)
    # Beam stages a submission's resources in tempfile.mkdtemp() directories it never removes
    # (with --setup_file, a 69 MB sdist per submission): the run removes them.
    assert list(scratch.iterdir()) == []
