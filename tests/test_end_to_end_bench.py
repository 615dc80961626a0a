"""bench.end_to_end scores its runs on the evaluation set's posts too: precision next to recall of
facts, with its own post ids matched to the set's by text."""
from __future__ import annotations

from bench import end_to_end
from bench import eval_set as E


def test_a_run_is_scored_on_the_evaluation_set_posts_it_contains():
    posts = E.load_posts()
    anns = E.load_annotations(E.default_annotation_files(), posts)
    a = next(a for a in anns if a.facts)
    text = posts[a.line].text
    names = {m.id: text[m.start:m.end] for m in a.mentions}
    fact = a.facts[0]
    texts = {"val-7": text, "val-8": "a sentence the set does not hold"}
    right = {"post_id": "val-7", "head": names[fact.head], "relation": fact.relation, "tail": names[fact.tail],
             "confidence": 0.9}
    wrong = dict(right, relation="/per/per/siblings" if fact.relation != "/per/per/siblings" else "/per/per/peer",
                 confidence=0.4)
    elsewhere = dict(right, post_id="val-8")
    scores = end_to_end.eval_set_scores([right, wrong, elsewhere], texts)
    # Only the one annotated post is scored, at every cut the bench reports.
    assert set(scores) == set(end_to_end.CUTS)
    assert scores[0.0]["posts"] == 1 and scores[0.0]["triples"] == 2 and scores[0.0]["correct"] == 1
    assert scores[0.0]["recall"] == 1 / len(a.facts)
    assert scores[0.5]["precision"] == 1.0
