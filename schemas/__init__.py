"""Typed records, the relation set and the Parquet schemas shared by every stage."""
from mmkg.schemas.records import (  # noqa: F401
    AnnotatedPair,
    DeadLetter,
    EntityMention,
    EntityPair,
    ImageRef,
    Post,
    RelationScores,
    Triple,
)
from mmkg.schemas.relations import NO_RELATION, RELATIONS  # noqa: F401
