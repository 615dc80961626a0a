"""The bad-input corpus (tests/data/bad/) mixed into good posts: every good post comes out, every
bad record lands in the dead letters with the reason for its kind, and nothing is lost or
counted twice: good + dead == input, exactly."""
from __future__ import annotations

import glob
import json
import os
import pathlib
import shutil

import pyarrow.parquet as pq
import pytest

from mmkg.cli.run import main as run_main
from mmkg.transforms.readers import DEAD, POSTS, ReadPosts
from tests.beam_util import run_and_collect
from tests.data.bad import generate

BAD = pathlib.Path(__file__).parent / "data" / "bad"

# posts.jsonl: line -> expected reason (substring). Lines not listed are good posts.
POSTS_JSONL = {
    2: "invalid JSON: Unterminated string",
    4: "record must be a JSON object, got list",
    5: "missing field 'id'",
    6: "field 'id' must be a non-empty string",
    7: "field 'id' contains control characters",
    8: "field 'id' contains control characters",  # a lone UTF-16 surrogate
    10: "field 'text' must be a string, got int",
    11: "missing field 'text'",
    12: "empty text",
    13: "empty text",
    14: "text contains control characters (U+0007)",
    15: "invalid JSON: Invalid control character",
    16: "invalid UTF-8 at byte",
    18: "field 'entities' must be a list",
    19: "entity 0 must be an object",
    20: "entity 0: 'start' must be an integer",
    21: "entity 0: span [44, 60) out of range",
    22: "entity 0: span [0, 12) is 'Ada Lovelace', not 'Babbage'",
    23: "unknown entity type 'ALIEN'",
    24: "pair 0: head/tail must be distinct",
    25: "pair 0: unknown relation",
    27: "image not found: images/missing.jpg",
    28: "unreadable image: images/truncated.jpg",
    29: "not an image: images/not_an_image.jpg",
    30: "field 'image' must be a non-empty path string",
    31: "field 'image_bytes' is not valid base64",
    32: "duplicate post id 'g02'",
    33: "record must be a JSON object, got NoneType",
    35: "pair 0: head and tail are the same span [0, 12)",
    # Offsets in another unit than code points: the reason says which, and where the name is.
    36: "is 'da Lovelace ', not 'Ada Lovelace' (offsets count Unicode code points; read as UTF-16 code "
        "units they give 'Ada Lovelace', which is [2, 14) in code points)",
    37: "span [13, 25) out of range for text of 16 chars (offsets count Unicode code points; read as UTF-8 "
        "bytes they give 'Ada Lovelace', which is [4, 16) in code points)",
}
POSTS_JSONL_GOOD = {"g01", "g02", "g03", "g04", "g05", "g06"}

# generated.jsonl, written at test time: line -> expected reason.
GENERATED_JSONL = {
    1: "text too long: 1000000 chars > 10000",
    2: "invalid JSON: nested too deeply",
    3: "image too large",
}
GENERATED_GOOD = {"gen-good"}

MNRE_TXT = {
    2: "not a Python dict literal",
    3: "not a dict literal, got list",
    4: "not a Python dict literal",  # {[1]: 2}: an unhashable key
    6: "'token' must be a non-empty list of strings",
    7: "'h.pos' [0, 9] out of range for 6 tokens",
    8: "'t.name' 'Yale' does not match tokens 'Harvard University'",
    9: "unknown relation '/per/org/nemesis'",
    10: "'img_id' must be a plain file name",
    11: "'h' must be a dict with 'name' and 'pos'",
    13: "'h' and 't' are the same span [1, 2]",
}

PARQUET = {
    "posts.parquet#1": "empty text",
    "posts.parquet#3": "entity 0: span [0, 12) is 'Lionel Messi', not 'Messi'",
    "posts.parquet#4": "duplicate post id 'pq-good-1'",
    "wrong_schema.parquet#0": "Parquet schema lacks field(s) text",
    "wrong_schema.parquet#1": "Parquet schema lacks field(s) text",
    "wrong_types.parquet#0": "Parquet field(s) id must be strings",
    "wrong_types.parquet#1": "Parquet field(s) id must be strings",
    "wrong_types.parquet#2": "Parquet field(s) id must be strings",
    "not_parquet.parquet": "unreadable Parquet file",
}
PARQUET_GOOD = {"pq-good-1", "pq-good-2"}


def input_lines(path: pathlib.Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def reasons_by_place(dead_letters) -> dict:
    """``file:line`` / ``file#row`` (file name only) -> reason."""
    out = {}
    for d in dead_letters:
        place = os.path.basename(d["source"])
        assert place not in out, f"two dead letters for {place}"
        out[place] = d["reason"]
    return out


def assert_reasons(got: dict, expected: dict) -> None:
    assert set(got) == set(expected), f"unexpected: {set(got) - set(expected)}, missing: {set(expected) - set(got)}"
    for place, fragment in expected.items():
        assert fragment in got[place], (place, got[place])


@pytest.fixture
def jsonl_input(tmp_path):
    """The committed corpus plus the generated kinds, in one folder with their images."""
    folder = tmp_path / "in"
    shutil.copytree(BAD / "images", folder / "images")
    shutil.copy(BAD / "posts.jsonl", folder / "posts.jsonl")
    generate.decompression_bomb_png(folder / "images" / "bomb.png")
    text = "Ada Lovelace worked with Charles Babbage."
    entities = [{"text": "Ada Lovelace", "start": 0, "end": 12, "type": "PER"},
                {"text": "Charles Babbage", "start": 25, "end": 40, "type": "PER"}]
    lines = [
        generate.huge_text_post(),
        generate.nested_json(),
        json.dumps({"id": "b-bomb", "text": text, "entities": entities, "image": "images/bomb.png"}),
        json.dumps({"id": "gen-good", "text": text, "entities": entities, "image": "images/good.jpg"}),
    ]
    (folder / "generated.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def summary_count(summary: str, label: str) -> int:
    line = next(l for l in summary.splitlines() if l.strip().startswith(label))
    return int(line.split()[-1])


def test_jsonl_corpus_through_the_pipeline(jsonl_input, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--input", str(jsonl_input / "*.jsonl"), "--data-dir", str(out), "--llm", "none", "--no-graph"]
    assert run_main(argv) == 0

    pairs = []
    for path in glob.glob(str(out / "out" / "pairs-*.parquet")):
        pairs += pq.read_table(path).to_pylist()
    good = {r["post_id"] for r in pairs}
    dead = []
    for path in glob.glob(str(out / "out" / "dead_letters-*.jsonl")):
        dead += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]

    expected = {f"posts.jsonl:{n}": r for n, r in POSTS_JSONL.items()}
    expected.update({f"generated.jsonl:{n}": r for n, r in GENERATED_JSONL.items()})
    assert_reasons(reasons_by_place(dead), expected)
    assert all(d["stage"] == "read" for d in dead)
    assert good == POSTS_JSONL_GOOD | GENERATED_GOOD
    n_input = input_lines(jsonl_input / "posts.jsonl") + input_lines(jsonl_input / "generated.jsonl")
    assert len(good) + len(dead) == n_input
    summary = capsys.readouterr().out
    assert summary_count(summary, "records read") == n_input
    assert summary_count(summary, "posts read") == len(good)
    assert summary_count(summary, "dead letters") == len(dead)
    # The kept g02 is the first one (line 3, with its image); the BOM did not cost g01.
    g02 = {r["image_id"] for r in pairs if r["post_id"] == "g02"}
    assert g02 == {"good.jpg"}


def assert_summary_counts(argv, records: int, posts: int, dead: int, capsys, tmp_path) -> None:
    """What `mmkg run` prints for the same input: records are its lines (rows), every one of them
    either in a post or a dead letter."""
    assert run_main([*argv, "--data-dir", str(tmp_path / "run"), "--llm", "none", "--no-graph"]) == 0
    summary = capsys.readouterr().out
    assert summary_count(summary, "records read") == records
    assert summary_count(summary, "posts read") == posts
    assert summary_count(summary, "dead letters") == dead


def test_parquet_corpus(tmp_path, capsys):
    counts = generate.parquet_files(tmp_path)
    out = run_and_collect(lambda p: p | ReadPosts(str(tmp_path / "*.parquet"), "parquet"))
    assert {p.post_id for p in out[POSTS]} == PARQUET_GOOD
    assert_reasons(reasons_by_place(d.to_dict() for d in out[DEAD]), PARQUET)
    rows = sum(counts.values())
    assert len(out[POSTS]) + len(out[DEAD]) == rows
    assert_summary_counts(["--input", str(tmp_path / "*.parquet")], rows, len(out[POSTS]), len(out[DEAD]),
                          capsys, tmp_path)


def test_mnre_corpus(tmp_path, capsys):
    out = run_and_collect(lambda p: p | ReadPosts(str(BAD / "mnre.txt"), "mnre"))
    assert_reasons(
        reasons_by_place(d.to_dict() for d in out[DEAD]), {f"mnre.txt:{n}": r for n, r in MNRE_TXT.items()}
    )
    # Lines 1 and 5 share a sentence and image: one post with both annotated pairs.
    pairs_per_post = sorted(len(p.pairs) for p in out[POSTS])
    assert pairs_per_post == [1, 2]
    good_lines = sum(pairs_per_post)
    lines = input_lines(BAD / "mnre.txt")
    assert good_lines + len(out[DEAD]) == lines
    # The summary once counted merged sentences as records and left the lines that failed to
    # parse out of the dead letters.
    assert_summary_counts(["--input", str(BAD / "mnre.txt"), "--format", "mnre"], lines, len(out[POSTS]),
                          len(out[DEAD]), capsys, tmp_path)
