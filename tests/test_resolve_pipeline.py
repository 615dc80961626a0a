"""Entity resolution in the pipeline (issue 24): `mmkg run` on the real DirectRunner writing the
real embedded store, and ResolveEntities against the library it wraps."""
from __future__ import annotations

import dataclasses
import json
import pathlib

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli.query import main as query_main
from mmkg.cli.run import main as run_main
from mmkg.kg import queries
from mmkg.kg.embedded import graph_settings
from mmkg.pipeline.build import build
from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.resolve.records import Decision
from mmkg.resolve.resolver import mentions_of_post, resolve
from mmkg.resolve.text_encoder import TextEncoder
from mmkg.resolve.text_settings import TextSettings
from mmkg.schemas.records import EntityMention, Post, Triple
from mmkg.transforms.resolve import (
    KnownEntities,
    ResolveEntities,
    named_post_text,
    post_names,
    record_json,
    record_of_json,
    triple_alt_names,
    triple_names,
)
from tests.beam_util import run_and_collect

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "posts.jsonl"


def run(input_path, data_dir, *extra):
    argv = ["--input", str(input_path), "--data-dir", str(data_dir), "--llm", "none",
            "--min-confidence", "0", *extra]
    assert run_main(argv) == 0


def graph_state(data_dir):
    """(snapshot, entities by key: name, type, aliases, resolution record) of a run's graph."""
    with graph_settings(str(data_dir), None) as settings:
        driver = settings.driver()
        try:
            snap = queries.graph_snapshot(driver, settings.database)
            entities, _ = queries.entity_states(driver, settings.database)
        finally:
            driver.close()
    return snap, {e["key"]: e for e in entities}


def clusters(entities):
    return sorted((k, e["type"], tuple(sorted(e["aliases"]))) for k, e in entities.items())


def entity_post(pid, *names):
    """A JSONL post of the given (name, type) entities joined by " and "."""
    text = " and ".join(n for n, _ in names)
    ents, at = [], 0
    for n, t in names:
        ents.append({"text": n, "start": at, "end": at + len(n), "type": t})
        at += len(n) + 5
    return json.dumps({"id": pid, "text": text, "entities": ents})


def trump_posts():
    """Run 1 knows only "Trump"; run 2 brings "Donald Trump" beside "Trump"."""
    return ([entity_post("t1", ("Trump", "PER"), ("White House", "ORG"))],
            [entity_post("t2", ("Donald Trump", "PER"), ("Trump", "PER"), ("White House", "ORG"))])


def melania_posts():
    """Run 1: "Trump" shares context with "Donald Trump"; run 2 brings "Melania Trump" into it."""
    return ([entity_post("a", ("Donald Trump", "PER"), ("White House", "ORG")),
             entity_post("c", ("Trump", "PER"), ("White House", "ORG"))],
            [entity_post("b", ("Melania Trump", "PER"), ("White House", "ORG"))])


def example_input(tmp_path, lines):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "images").symlink_to(REPO / "examples" / "images")
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The README example, once, resolved; its graph state after one run and after a second."""
    d = tmp_path_factory.mktemp("whole")
    inp = example_input(tmp_path_factory.mktemp("in"), EXAMPLES.read_text().splitlines())
    run(inp, d)
    first = graph_state(d)
    run(inp, d)
    return first, graph_state(d), d


def test_louvre_and_its_handle_are_one_entity_with_both_names(whole, capsys):
    (_, entities), _, d = whole
    louvre = [e for e in entities.values() if "Louvre" in e["aliases"] or "@LouvreMuseum" in e["aliases"]]
    assert len(louvre) == 1
    assert {"Louvre", "@LouvreMuseum"} <= set(louvre[0]["aliases"])
    record, _ = record_of_json(louvre[0]["resolution"])
    assert {d.rule for d in record.decisions} == {"account"}  # the handle is written as Louvre's account
    capsys.readouterr()
    assert query_main(["entity", "@LouvreMuseum", "--data-dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert "entity: Louvre (LOC)" in out
    assert "aliases: @LouvreMuseum, Louvre" in out
    assert "merged because: LOC:louvre ~ LOC:louvre museum  account" in out


def test_running_the_same_input_twice_changes_nothing(whole):
    (snap1, _), (snap2, _), _ = whole
    assert snap1 == snap2


def test_two_halves_in_sequence_give_the_clusters_of_one_run(whole, tmp_path):
    (_, entities), _, _ = whole
    lines = EXAMPLES.read_text().splitlines()
    d = tmp_path / "halves"
    first = example_input(tmp_path / "a", lines[::2])
    second = example_input(tmp_path / "b", lines[1::2])
    run(first, d)
    run(second, d)
    _, halves = graph_state(d)
    assert clusters(halves) == clusters(entities)
    # Not only the partition: every record (aliases with posts, decisions) is the same.
    assert {k: e["resolution"] for k, e in halves.items()} == {k: e["resolution"] for k, e in entities.items()}


def test_no_resolve_keeps_exact_keys(tmp_path):
    inp = example_input(tmp_path / "in", EXAMPLES.read_text().splitlines()[10:11])
    run(inp, tmp_path / "exact", "--no-resolve")
    _, entities = graph_state(tmp_path / "exact")
    assert {"LOC:louvre", "LOC:@louvremuseum"} <= set(entities)
    assert all(not e["resolution"] for e in entities.values())


def test_washington_the_person_and_the_place_stay_two_nodes(tmp_path):
    posts = [
        {"id": "w1", "text": "Washington crossed the Delaware.",
         "entities": [{"text": "Washington", "start": 0, "end": 10, "type": "PER"},
                      {"text": "Delaware", "start": 23, "end": 31, "type": "LOC"}]},
        {"id": "w2", "text": "Washington is rainy.",
         "entities": [{"text": "Washington", "start": 0, "end": 10, "type": "LOC"}]},
        {"id": "w3", "text": "George Washington was the first president.",
         "entities": [{"text": "George Washington", "start": 0, "end": 17, "type": "PER"}]},
    ]
    inp = example_input(tmp_path / "in", [json.dumps(p) for p in posts])
    run(inp, tmp_path / "g")
    _, entities = graph_state(tmp_path / "g")
    by_type = {}
    for e in entities.values():
        if any("Washington" in a for a in e["aliases"]):
            by_type.setdefault(e["type"], []).append(e["key"])
    assert len(by_type["PER"]) >= 1 and len(by_type["LOC"]) == 1
    assert not set(by_type["PER"]) & set(by_type["LOC"])


# -- ResolveEntities against the library ---------------------------------------------------------

POSTS = [
    Post("a", "x", entities=(EntityMention("Louvre", 0, 1, "LOC", "ner"), EntityMention("Paris", 0, 1, "LOC", "ner"))),
    Post("b", "x", entities=(EntityMention("Donald Trump", 0, 1, "PER", "ner"),
                             EntityMention("Kim Jong Un", 0, 1, "PER", "ner"))),
    Post("c", "x", entities=(EntityMention("Trump", 0, 1, "PER", "ner"), EntityMention("Kim", 0, 1, "PER", "ner"),
                             EntityMention("Washington", 0, 1, "LOC", "ner"))),
    Post("d", "x", entities=(EntityMention("Washington", 0, 1, "PER", "ner"),)),
]
TRIPLES = [
    Triple("@LouvreMuseum", "LOC", "/loc/loc/contain", "Louvre", "LOC", 0.9, "guide", "a", None, "g"),
    Triple("POTUS", "PER", "/per/per/alternate_names", "Donald Trump", "PER", 0.9, "guide", "b", None, "g"),
    Triple("POTUS", "PER", "/per/per/alternate_names", "Donald Trump", "PER", 0.9, "guide", "c", None, "g"),
]


def beam_resolve(posts, triples, known=KnownEntities()):
    def build(p):
        inputs = {"posts": p | "P" >> beam.Create(posts), "triples": p | "T" >> beam.Create(triples),
                  "known": p | "K" >> beam.Create([known])}
        return {"r": inputs | ResolveEntities()}

    out = run_and_collect(build)["r"]
    assert len(out) == 1
    return out[0]


def library_resolve(posts, triples, existing=(), alt=()):
    """What the Beam stage computes, with the library: the same names per post, and the text vector
    of each post that names one (the same encoder, ``TextSettings()``'s)."""
    by_post = {}
    for pid, nt in [x for p in posts for x in post_names(p)] + [x for t in triples for x in triple_names(t)]:
        by_post.setdefault(pid, set()).add(nt)
    encoder = TextEncoder(TextSettings().encoder)
    vector = {p.post_id: encoder(p.text) for p in posts if named_post_text(p)}
    mentions = [m for pid in sorted(by_post)
                for m in mentions_of_post(pid, sorted(by_post[pid]), vector=vector.get(pid, ""))]
    return resolve(mentions, existing, [*alt, *(a for t in triples for a in triple_alt_names(t))])


def test_the_beam_stage_equals_the_library():
    res = beam_resolve(POSTS, TRIPLES)
    lib = library_resolve(POSTS, TRIPLES)
    assert res.entities == lib.entities and res.decisions == lib.decisions
    assert res.key_of("@LouvreMuseum", "LOC") == res.key_of("Louvre", "LOC")
    assert res.key_of("POTUS", "PER") == res.key_of("Donald Trump", "PER")
    assert res.key_of("Washington", "PER") != res.key_of("Washington", "LOC")


def test_records_read_back_from_json_resolve_a_later_run_like_the_whole():
    whole = beam_resolve(POSTS, TRIPLES)
    first = beam_resolve(POSTS[:2], TRIPLES[:2])
    alts = [a for t in TRIPLES[:2] for a in triple_alt_names(t)]
    stored = [{"key": r.key, "resolution": record_json(r, alts)} for r in first.entities.values()]
    known = KnownEntities.of_graph(stored)
    assert list(known.records) == list(first.entities.values())
    later = beam_resolve(POSTS[2:], TRIPLES[2:], known)
    assert later.clusters() == whole.clusters()
    assert later.entities == whole.entities


def test_a_short_form_read_back_from_json_stays_with_the_name_it_stands_for():
    def post(pid, *names):
        return Post(pid, "x", entities=tuple(EntityMention(n, 0, 1, t, "ner") for n, t in names))

    kims = [post("k1", ("Kim Kardashian", "PER"), ("Kim", "PER"), ("Kanye West", "PER")),
            post("j1", ("Kim Jong Un", "PER"), ("Trump", "PER"), ("Singapore", "LOC"), ("Pyongyang", "LOC")),
            post("j2", ("Kim", "PER"), ("Trump", "PER"), ("Singapore", "LOC"), ("Pyongyang", "LOC"))]
    whole = beam_resolve(kims, [])
    lib = library_resolve(kims, [])
    assert whole.entities == lib.entities and whole.in_post == lib.in_post
    first = beam_resolve(kims[:1], [])
    known = KnownEntities.of_graph([{"key": r.key, "resolution": record_json(r)} for r in first.entities.values()])
    assert list(known.records) == list(first.entities.values())
    later = beam_resolve(kims[1:], [], known)
    assert later.entities == whole.entities and later.in_post == whole.in_post
    assert later.key_of("Kim", "PER", "k1") == later.key_of("Kim Kardashian", "PER")
    assert later.key_of("Kim", "PER", "j2") == later.key_of("Kim Jong Un", "PER")


def test_the_beam_stage_scores_again_the_links_of_records_made_under_older_rules():
    first = beam_resolve(POSTS[:1], TRIPLES[:1])
    louvre = first.entities[first.key_of("Louvre", "LOC")]
    # As an older run recorded it: a subset link whose dependent now joins no entity on context.
    old_link = Decision("LOC:louvre", "LOC:louvre museum", "subset", 3.0, False, "LOC:louvre", ())
    old = dataclasses.replace(louvre, rules="", decisions=(old_link,))
    known = KnownEntities.of_graph([{"key": old.key, "resolution": record_json(old)}])
    assert known.records[0].rules == ""
    later = beam_resolve(POSTS[1:2], TRIPLES[1:2], known)
    lib = library_resolve(POSTS[1:2], TRIPLES[1:2], existing=[old])
    assert later.entities == lib.entities
    assert later.key_of("@LouvreMuseum", "LOC") == later.key_of("Louvre", "LOC")
    assert [d.rule for d in later.entities[later.key_of("Louvre", "LOC")].decisions] == ["account"]


def test_a_later_run_that_renames_an_entity_folds_the_old_node_into_the_new(tmp_path):
    """Run 1 knows only "Trump" (entity PER:trump); run 2 brings "Donald Trump" in a post with
    "Trump": the entity is now PER:donald trump, and the old node's edges and mentions move to it."""
    one, two = trump_posts()
    run(example_input(tmp_path / "one", one), tmp_path / "seq")
    snap1, first = graph_state(tmp_path / "seq")
    assert "PER:trump" in first
    run(example_input(tmp_path / "two", two), tmp_path / "seq")
    snap, seq = graph_state(tmp_path / "seq")
    run(example_input(tmp_path / "both", one + two), tmp_path / "whole")
    whole_snap, whole = graph_state(tmp_path / "whole")
    assert "PER:trump" not in seq and "PER:donald trump" in seq
    assert clusters(seq) == clusters(whole)
    ends = {(s, e) for _, s, e, _ in snap["relationships"]}
    assert not any("PER:trump" in (s, e) for s, e in ends)
    assert ("t1", "PER:donald trump") in ends  # run 1's mention, re-pointed
    assert ends == {(s, e) for _, s, e, _ in whole_snap["relationships"]}


def test_a_name_split_off_by_new_evidence_takes_its_posts_mentions_and_facts_along(tmp_path):
    """Run 1: "Trump" shares context with "Donald Trump" and joins him. Run 2 brings "Melania
    Trump" in the same context: "Trump" is ambiguous now and leaves. Its post's mention and the
    facts only that post supports move to the new PER:trump, and "Trump" leaves Donald Trump's
    aliases: the graph equals one run over all three posts."""
    one, two = melania_posts()
    run(example_input(tmp_path / "one", one), tmp_path / "seq")
    _, first = graph_state(tmp_path / "seq")
    assert "Trump" in first["PER:donald trump"]["aliases"] and "PER:trump" not in first
    run(example_input(tmp_path / "two", two), tmp_path / "seq")
    snap, seq = graph_state(tmp_path / "seq")
    run(example_input(tmp_path / "both", one + two), tmp_path / "whole")
    whole_snap, whole = graph_state(tmp_path / "whole")

    assert "PER:trump" in seq and "Trump" not in seq["PER:donald trump"]["aliases"]
    assert clusters(seq) == clusters(whole)
    mentions = {(s, e) for t, s, e, _ in snap["relationships"] if t == "MENTIONS"}
    assert ("c", "PER:trump") in mentions and ("c", "PER:donald trump") not in mentions
    # every fact with the posts that support it, as one run over all posts has them
    assert support(snap) == support(whole_snap)


def test_a_first_name_beside_the_full_name_goes_to_that_person_in_the_graph(tmp_path, capsys):
    """A real run: "Kim" in the post that names Kim Kardashian is hers (mention and fact), the
    bare "Kim" among Kim Jong Un's context is his; neither takes the other's posts along."""
    posts = [entity_post("k1", ("Kim Kardashian", "PER"), ("Kim", "PER"), ("Kanye West", "PER")),
             entity_post("k2", ("Kim Kardashian", "PER"), ("Kanye West", "PER")),
             entity_post("j1", ("Kim Jong Un", "PER"), ("Trump", "PER"), ("Singapore", "LOC"), ("Pyongyang", "LOC")),
             entity_post("j2", ("Kim", "PER"), ("Trump", "PER"), ("Singapore", "LOC"), ("Pyongyang", "LOC"))]
    run(example_input(tmp_path / "in", posts), tmp_path / "g")
    snap, entities = graph_state(tmp_path / "g")
    mentions = {(s, e) for t, s, e, _ in snap["relationships"] if t == "MENTIONS"}
    assert {("k1", "PER:kim kardashian"), ("j2", "PER:kim jong un")} <= mentions
    assert not {e for p, e in mentions if p == "j2"} & {"PER:kim kardashian", "PER:kim"}
    assert "PER:kim" not in entities
    assert "Kim" in entities["PER:kim kardashian"]["aliases"] and "Kim" in entities["PER:kim jong un"]["aliases"]
    # Facts of the posts follow their mentions: none links Kim Kardashian's posts to Kim Jong Un.
    facts = {(s, e) for t, s, e, _ in snap["relationships"] if t not in ("MENTIONS", "DEPICTS", "HAS_IMAGE")}
    assert not {x for x in facts if "PER:kim jong un" in x} & {x for x in facts if "PER:kanye west" in x}
    capsys.readouterr()
    assert query_main(["entity", "Kim", "--data-dir", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "entity: Kim Jong Un (PER); Kim Kardashian (PER)" in out
    assert "in its posts, 'Kim' is this entity: written beside 'Kim Kardashian' (1 post: k1)" in out


def support(snap):
    """(type, start, end) -> the post ids a relationship carries (mentions: none)."""
    return {(t, s, e): tuple(sorted(dict(p).get("post_ids") or ())) for t, s, e, p in snap["relationships"]}


def test_mmkg_resolve_undo_splits_a_merge_and_the_split_survives_later_runs(tmp_path, capsys):
    """`mmkg resolve undo Trump "Donald Trump"` on the graph a run wrote: "Trump" gets its own
    entity with its post's mention and facts, leaves Donald Trump's aliases, `query entity`
    says why, and running the same posts again keeps them apart."""
    from mmkg.cli.resolve import main as resolve_main

    one, _ = melania_posts()
    inp = example_input(tmp_path / "in", one)
    d = tmp_path / "graph"
    run(inp, d)
    _, before = graph_state(d)
    assert "Trump" in before["PER:donald trump"]["aliases"]
    assert resolve_main(["undo", "Trump", "Donald Trump", "--data-dir", str(d)]) == 0
    assert "kept apart from now on" in capsys.readouterr().out
    snap, after = graph_state(d)
    assert "PER:trump" in after and "Trump" not in after["PER:donald trump"]["aliases"]
    mentions = {(s, e) for t, s, e, _ in snap["relationships"] if t == "MENTIONS"}
    assert ("c", "PER:trump") in mentions and ("c", "PER:donald trump") not in mentions
    assert query_main(["entity", "Trump", "--data-dir", str(d)]) == 0
    assert "manual-split" in capsys.readouterr().out

    run(inp, d)  # the same posts again: the undone merge is not made again
    again, later = graph_state(d)
    assert clusters(later) == clusters(after) and again == snap

    assert resolve_main(["undo", "Trump", "White House", "--data-dir", str(d)]) == 1
    assert "no entity has both" in capsys.readouterr().err


def test_undo_keeps_the_thresholds_the_graph_was_resolved_with(tmp_path, capsys):
    from mmkg.cli.resolve import main as resolve_main

    one, _ = melania_posts()
    inp = example_input(tmp_path / "in", one + [entity_post("n1", ("Nigeria", "LOC")),
                                                entity_post("n2", ("Nigerian", "LOC")),
                                                entity_post("p1", ("Paris", "LOC"), ("Texworld Paris", "LOC"))])
    d = tmp_path / "graph"
    run(inp, d, "--resolve-param", "fuzzy_word_loc=88", "--resolve-param", "ctx_word_loc=9")
    # `query entity` explains a name kept apart with the thresholds of its record, not the defaults.
    assert query_main(["entity", "Paris", "--data-dir", str(d)]) == 0
    assert "a place's single word needs a context score of 9 " in capsys.readouterr().out
    assert resolve_main(["undo", "Trump", "Donald Trump", "--data-dir", str(d)]) == 0
    _, after = graph_state(d)
    assert "Trump" not in after["PER:donald trump"]["aliases"]
    # Undone with the defaults, the demonym would have left its country too.
    (nigeria,) = [e for e in after.values() if "Nigeria" in e["aliases"]]
    assert "Nigerian" in nigeria["aliases"]


def test_the_job_reads_the_graph_when_it_runs_not_when_it_is_built(tmp_path):
    """Run 2's job is built while the graph is still empty, then run 1 writes "Trump": run 2 still
    folds PER:trump into PER:donald trump, so it read the graph when it ran (a template or a
    queued job resolves against the graph of the day it runs, and no graph state travels in the
    job). Built at the start, it would have left PER:trump beside the new entity."""
    one, two = trump_posts()
    inputs = [example_input(tmp_path / "one", one), example_input(tmp_path / "two", two)]
    data = tmp_path / "seq"

    def job(input_path, graph):
        opts = PipelineOptions(["--input", str(input_path), "--data-dir", str(data), "--llm", "none",
                                "--min-confidence", "0"])
        p = beam.Pipeline(options=opts)
        build(p, settings_from_options(opts.view_as(MmkgOptions), {}), graph=graph)
        return p

    with graph_settings(str(data), None) as graph:
        second = job(inputs[1], graph)
        job(inputs[0], graph).run().wait_until_finish()
        second.run().wait_until_finish()
    _, entities = graph_state(data)
    assert "PER:donald trump" in entities and "PER:trump" not in entities
    assert {"Trump", "Donald Trump"} <= set(entities["PER:donald trump"]["aliases"])


def test_resolve_params_change_the_merges_and_a_graph_made_with_others_is_scored_again(tmp_path, capsys):
    # Demonyms stay apart by default (docs/resolution.md); --resolve-param fuzzy_word_loc=88 joins them,
    # the records say so, and a later run with the defaults scores those links again instead of keeping them.
    inp = example_input(tmp_path / "in", [entity_post("n1", ("Nigeria", "LOC"), ("Lagos", "LOC")),
                                           entity_post("n2", ("Nigerian", "LOC"), ("Abuja", "LOC"))])

    def nigeria(data_dir):
        _, entities = graph_state(data_dir)
        return [e for e in entities.values() if {"Nigeria", "Nigerian"} & set(e["aliases"])]

    run(inp, tmp_path / "g")
    assert len(nigeria(tmp_path / "g")) == 2  # the defaults
    # The same posts again with the looser threshold: the graph's names are scored again, not kept apart.
    run(inp, tmp_path / "g", "--resolve-param", "fuzzy_word_loc=88")
    (joined,) = nigeria(tmp_path / "g")
    assert set(joined["aliases"]) >= {"Nigeria", "Nigerian"}
    assert json.loads(joined["resolution"])["rules"].endswith(";fuzzy_word_loc=88.0")
    assert "thresholds        fuzzy_word_loc=88.0" in capsys.readouterr().out
    run(inp, tmp_path / "g")  # and the defaults again
    assert len(nigeria(tmp_path / "g")) == 2


def test_a_bad_resolve_param_is_refused_with_the_names_it_takes():
    from mmkg.pipeline.options import SettingsError

    for bad, says in (("fuzzy_word_lco=88", "fuzzy_word_loc"), ("ctx_word=often", "not a number"),
                      ("alt_alone=1.5", "whole number"), ("margin", "NAME=VALUE"), ("ctx_word=-1", ">= 0")):
        opts = PipelineOptions(["--input", "x.jsonl", "--resolve-param", bad]).view_as(MmkgOptions)
        with pytest.raises(SettingsError, match=says):
            settings_from_options(opts)
    opts = PipelineOptions(["--input", "x.jsonl", "--resolve-param", "ctx_word=never",
                            "--resolve-param", "alt_alone=3"]).view_as(MmkgOptions)
    params = settings_from_options(opts).resolve_params
    assert params.ctx_word == float("inf") and params.alt_alone == 3
