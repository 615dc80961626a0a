"""Entities for posts that came without them; posts with entities pass through untouched.

By default the project's NER student tags them (through RunInference, batched, loaded once per
worker); ``--ner-model spacy:NAME`` uses a spaCy pipeline instead.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference

from mmkg.ner.handles import type_handles
from mmkg.ner.mentions import REASONS, clean_mentions
from mmkg.ner.settings import NerSettings
from mmkg.schemas.records import Post
from mmkg.transforms import counters
from mmkg.transforms.ner_spacy import DetectWithSpacy
from mmkg.transforms.ner_student import NerStudentHandler

_GIVEN, _MISSING = 0, 1


def _has_entities(post: Post, _n: int) -> int:
    return _GIVEN if post.entities is not None else _MISSING


class _Count(beam.DoFn):
    """Counts posts that kept their given entities, or the entities detected in a post."""

    def __init__(self, name: str, per_entity: bool):
        self._name, self._per_entity = name, per_entity
        self._counter = None

    def setup(self):
        self._counter = counters.counter(self._name)

    def process(self, post: Post):
        self._counter.inc(len(post.entities or ()) if self._per_entity else 1)
        yield post


class _KeepEntities(beam.DoFn):
    """Drops detected spans that are no entities (ner.mentions): the retweet prefix, pronouns,
    punctuation, cut names; each counted by its reason, so nothing goes silently."""

    def setup(self):
        self._dropped = {r: counters.counter(counters.ENTITIES_DROPPED + r) for r in REASONS}

    def process(self, post: Post):
        kept, dropped = clean_mentions(post.text, post.entities or ())
        for d in dropped:
            self._dropped[d.reason].inc()
        yield post.with_entities(kept)


class _TypeHandles(beam.DoFn):
    """Types each candidate @handle that spells a name of its post as that name (ner.handles), so
    that it reaches the graph as an alias of the name; counted."""

    def setup(self):
        self._typed = counters.counter(counters.HANDLES_TYPED)

    def process(self, post: Post):
        mentions, n = type_handles(post.entities or ())
        if n:
            self._typed.inc(n)
            post = post.with_entities(mentions)
        yield post


class DetectEntities(beam.PTransform):
    """PCollection[Post] -> PCollection[Post], every post with its entities."""

    def __init__(self, settings: NerSettings = NerSettings()):
        super().__init__()
        self.settings = settings

    def expand(self, posts):
        given, missing = posts | "HasEntities" >> beam.Partition(_has_entities, 2)
        if self.settings.spacy is not None:
            detected = missing | "Spacy" >> beam.ParDo(DetectWithSpacy(self.settings.spacy))
        else:
            detected = missing | "NerStudent" >> RunInference(NerStudentHandler(self.settings))
        detected = (detected
                    | "KeepEntities" >> beam.ParDo(_KeepEntities())
                    | "TypeHandles" >> beam.ParDo(_TypeHandles()))
        return (
            (
                given | "CountGiven" >> beam.ParDo(_Count(counters.POSTS_WITH_GIVEN_ENTITIES, per_entity=False)),
                detected | "CountDetected" >> beam.ParDo(_Count(counters.ENTITIES_DETECTED, per_entity=True)),
            )
            | "AllPosts" >> beam.Flatten()
        )
