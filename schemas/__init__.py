"""Typed records, the relation set and the Parquet schemas shared by every stage."""
from schemas.records import (  # noqa: F401
    AnnotatedPair,
    DeadLetter,
    EntityMention,
    EntityPair,
    ImageRef,
    Post,
    RelationScores,
    Triple,
)
from schemas.relations import NO_RELATION, RELATIONS  # noqa: F401
