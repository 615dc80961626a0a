"""Undo one merge that entity resolution made, in a graph that runs wrote (`mmkg resolve undo`).

The two names never merge again, in this graph or in later runs (a ``manual-split`` decision is
recorded on both entities and read back by every run); the split-off name takes its posts along
(their mentions and their share of each relationship, as when new evidence splits a name)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from mmkg.kg.queries import entity_states
from mmkg.kg.writer import apply_redirects, write_rows
from mmkg.resolve.normalise import normalise
from mmkg.resolve.records import EntityRecord, node_key
from mmkg.resolve.resolver import undo
from mmkg.resolve.scoring import params_of
from mmkg.transforms.resolve import KnownEntities, entity_rows, redirect_reads


class UndoError(ValueError):
    """The names given are not two names of one entity."""


@dataclass(frozen=True)
class Undone:
    entity: str  # the key of the entity both names were in
    keys: Tuple[str, str]  # the entity of each name now
    posts_moved: int


def _holding(records, name_a: str, name_b: str) -> Tuple[EntityRecord, str, str]:
    for r in records:
        a, b = (node_key(r.type, normalise(n, r.type)) for n in (name_a, name_b))
        if a in r.nodes and b in r.nodes:
            if a == b:
                raise UndoError(f"{name_a!r} and {name_b!r} are one name once normalised ({a}): nothing to split")
            return r, a, b
    raise UndoError(f"no entity has both {name_a!r} and {name_b!r} among its names "
                    f"(`mmkg query entity NAME` lists an entity's names)")


def undo_merge(driver, name_a: str, name_b: str, database: Optional[str] = None) -> Undone:
    """Splits ``name_a`` from ``name_b`` in the graph behind ``driver``; raises UndoError when
    they are not names of one entity."""
    known = KnownEntities.of_graph(*entity_states(driver, database))
    record, a, b = _holding(known.records, name_a, name_b)
    # With the thresholds the entity was resolved with (``--resolve-param``), so undoing one merge
    # changes nothing else.
    res = undo(known.records, a, b, params=params_of(record.rules), alt_names=known.alt_names)
    rows = list(entity_rows(res, list(known.alt_names), dict(known.stored)))
    if rows:
        write_rows(driver, rows, database)
    apply_redirects(driver, res.redirects, database, res.moves, read=redirect_reads(res.redirects, known))
    return Undone(record.key, (res.node_entity[a], res.node_entity[b]), sum(len(p) for _, _, p in res.moves))
