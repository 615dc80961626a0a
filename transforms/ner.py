"""Entity detection with spaCy for posts that came without entities."""
from __future__ import annotations

from typing import Optional, Tuple

import apache_beam as beam

from mmkg.schemas.records import EntityMention, Post
from mmkg.schemas.settings import NerSettings
from mmkg.transforms import counters


# spaCy's OntoNotes labels mapped onto the four MNRE/Twitter types; numbers, dates and amounts
# take part in no relation of the set and are dropped.
SPACY_TO_TYPE = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "WORK_OF_ART": "MISC",
    "PRODUCT": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}


_LEADING_ARTICLES = ("the ", "The ")


def mentions_from_doc(doc) -> Tuple[EntityMention, ...]:
    out = []
    for ent in doc.ents:
        etype = SPACY_TO_TYPE.get(ent.label_)
        if etype is None:
            continue
        start, end, text = ent.start_char, ent.end_char, ent.text
        # "the European Union" and "European Union" are one entity in the graph.
        if text.startswith(_LEADING_ARTICLES) and len(text) > 4:
            start, text = start + 4, text[4:]
        if not text.strip():
            continue
        out.append(EntityMention(text=text, start=start, end=end, type=etype, source="ner"))
    return tuple(out)


def load_spacy(name: str):
    import spacy

    # Only the NER component is needed; the rest costs time per post.
    return spacy.load(name, disable=["parser", "lemmatizer", "attribute_ruler", "tagger"])


class DetectEntities(beam.DoFn):
    """Fills in entities with spaCy where the post has none; posts with entities pass through."""

    def __init__(self, settings: NerSettings = NerSettings()):
        self._model_name = settings.model
        self._nlp = None
        self._detected = counters.counter(counters.ENTITIES_DETECTED)
        self._given = counters.counter(counters.POSTS_WITH_GIVEN_ENTITIES)

    def process(self, post: Post):
        if post.entities is not None:
            self._given.inc()
            yield post
            return
        # Loaded on first need, not in setup(): when every post carries its entities (MNRE,
        # evaluation sets) no worker pays the seconds spaCy takes to load.
        if self._nlp is None:
            self._nlp = load_spacy(self._model_name)
        mentions = mentions_from_doc(self._nlp(post.text))
        self._detected.inc(len(mentions))
        yield post.with_entities(mentions)


def detect_entities(text: str, nlp: Optional[object] = None) -> Tuple[EntityMention, ...]:
    nlp = nlp or load_spacy(NerSettings.model)
    return mentions_from_doc(nlp(text))
