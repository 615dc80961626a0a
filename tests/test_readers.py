"""The readers on good and bad input, through the real DirectRunner."""
from __future__ import annotations

import base64
import io
import json
import pathlib
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmkg.schemas.arrow import POST_SCHEMA
from mmkg.schemas.validation import ReadConfig
from mmkg.transforms.readers import DEAD, POSTS, ReadPosts
from tests.beam_util import run_and_collect
from tests.conftest import mnre_path

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def read(pattern, fmt=None, cfg=None):
    return run_and_collect(lambda p: p | ReadPosts(str(pattern), fmt, cfg))


def jpeg_bytes(size=(8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_example_posts_all_arrive_with_their_images():
    out = read(EXAMPLES / "posts.jsonl")
    posts = {p.post_id: p for p in out[POSTS]}
    lines = [json.loads(l) for l in (EXAMPLES / "posts.jsonl").read_text().splitlines()]
    assert set(posts) == {l["id"] for l in lines}
    assert out[DEAD] == []
    for line in lines:
        post = posts[line["id"]]
        assert post.text == line["text"]
        if "image" in line:
            assert post.image is not None and pathlib.Path(post.image.path).is_file()
            assert post.image.image_id == pathlib.Path(line["image"]).name
        else:
            assert post.image is None
    messi = posts["ex-05"]
    assert [(e.text, e.type) for e in messi.entities] == [
        ("Lionel Messi", "PER"), ("Inter Miami", "ORG"), ("Fort Lauderdale", "LOC")]
    assert posts["ex-01"].entities is None  # left for NER


def test_jsonl_bad_records_become_dead_letters_with_reasons(tmp_path):
    good = {"id": "g1", "text": "Obama visits Harvard", "entities": [
        {"text": "Obama", "start": 0, "end": 5, "type": "person"}]}
    lines = [
        json.dumps(good),
        '{"id": "x1", "text": "unterminated',
        json.dumps({"id": "x2", "text": 42}),
        json.dumps({"id": "x3"}),
        json.dumps({"id": "x4", "text": "   "}),
        json.dumps({"id": "x5", "text": "Obama", "entities": [{"text": "Obama", "start": 0, "end": 9}]}),
        json.dumps({"id": "x6", "text": "Obama", "entities": [{"text": "Biden", "start": 0, "end": 5}]}),
        json.dumps({"id": "x7", "text": "Obama", "entities": [{"text": "Obama", "start": 0, "end": 5, "type": "ALIEN"}]}),
        json.dumps({"id": "x8", "text": "Obama", "image": "nope/missing.jpg"}),
        json.dumps({"id": "g1", "text": "a second post with the same id"}),
        json.dumps({"text": "no id"}),
    ]
    path = tmp_path / "posts.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "x9", "text": "caf\xe9"}\n')
    out = read(path)
    assert [p.post_id for p in out[POSTS]] == ["g1"]
    assert out[POSTS][0].entities[0].type == "PER"
    reasons = {d.source.rsplit(":", 1)[1]: d.reason for d in out[DEAD]}
    expected = {
        "2": "invalid JSON", "3": "must be a string", "4": "missing field 'text'", "5": "empty text",
        "6": "out of range", "7": "not 'Biden'", "8": "unknown entity type", "9": "image not found",
        "10": "duplicate post id", "11": "missing field 'id'", "12": "invalid UTF-8",
    }
    assert set(reasons) == set(expected)
    for line_no, fragment in expected.items():
        assert fragment in reasons[line_no], (line_no, reasons[line_no])
    assert len(out[POSTS]) + len(out[DEAD]) == len(lines) + 1


def test_too_long_text_is_refused(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"id": "l", "text": "a" * 101}) + "\n")
    out = read(path, cfg=ReadConfig(max_text_chars=100))
    assert out[POSTS] == [] and "too long" in out[DEAD][0].reason


def test_images_absolute_inline_and_broken(tmp_path):
    img = tmp_path / "pic.jpg"
    img.write_bytes(jpeg_bytes())
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpeg_bytes((64, 64))[:200])
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not an image")
    records = [
        {"id": "abs", "text": "t", "image": str(img)},
        {"id": "inline", "text": "t", "image_bytes": base64.b64encode(jpeg_bytes()).decode(), "image_id": "i1"},
        {"id": "truncated", "text": "t", "image": str(broken)},
        {"id": "fake", "text": "t", "image": str(fake)},
        {"id": "badb64", "text": "t", "image_bytes": "***"},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = read(path)
    posts = {p.post_id: p for p in out[POSTS]}
    assert set(posts) == {"abs", "inline"}
    assert posts["abs"].image.path == str(img)
    assert posts["inline"].image.data == base64.b64decode(records[1]["image_bytes"])
    reasons = {d.post_id: d.reason for d in out[DEAD]}
    assert "unreadable image" in reasons["truncated"]
    assert "not an image" in reasons["fake"]
    assert "not valid base64" in reasons["badb64"]


def test_parquet_good_and_wrong_schema(tmp_path):
    rows = [
        {"id": "p1", "text": "Messi plays for Inter Miami", "image": None, "image_id": None,
         "image_bytes": None, "entities": [{"text": "Messi", "start": 0, "end": 5, "type": "PER"}]},
        {"id": "p2", "text": "", "image": None, "image_id": None, "image_bytes": None, "entities": None},
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=POST_SCHEMA), tmp_path / "good.parquet")
    pq.write_table(pa.table({"id": ["w1", "w2"], "body": ["a", "b"]}), tmp_path / "wrong.parquet")
    out = read(tmp_path / "*.parquet")
    assert [p.post_id for p in out[POSTS]] == ["p1"]
    assert out[POSTS][0].entities[0].text == "Messi"
    reasons = sorted(d.reason for d in out[DEAD])
    assert reasons == ["Parquet schema lacks field(s) text"] * 2 + ["empty text"]


def test_mnre_lines_group_into_posts_with_annotated_pairs(tmp_path):
    lines = (mnre_path("mnre_val.txt")).read_text().splitlines()[:60]
    (tmp_path / "images").mkdir()
    split = tmp_path / "val.txt"
    split.write_text("\n".join(lines + ["[1, 2, 3]", "{'token': ['a'], 'h': {'name': 'zz', 'pos': [0, 1]}, 't': {'name': 'a', 'pos': [0, 1]}}"]) + "\n")
    out = read(split, "mnre")
    posts = out[POSTS]
    assert sum(len(p.pairs) for p in posts) == 60
    assert len(posts) < 60  # several pairs share a sentence
    for post in posts:
        for pair in post.pairs:
            for idx in (pair.head, pair.tail):
                ent = post.entities[idx]
                assert post.text[ent.start:ent.end] == ent.text
    assert sorted(d.reason.split(" ")[0] for d in out[DEAD]) == ["'h.name'", "not"]
    assert all(p.image is None for p in posts)  # no image files beside this split


def test_mnre_image_found_beside_the_split(tmp_path):
    manifest = json.loads((mnre_path("images") / "manifest.json").read_text())
    img_id, info = next((k, v) for k, v in manifest.items() if v["split"] == "val")
    line = (mnre_path("mnre_val.txt")).read_text().splitlines()[info["line_idx"][0]]
    (tmp_path / "images").mkdir()
    shutil.copy(mnre_path("images") / img_id, tmp_path / "images" / img_id)
    (tmp_path / "val.txt").write_text(line + "\n")
    out = read(tmp_path / "val.txt", "mnre")
    assert out[POSTS][0].image.image_id == img_id
