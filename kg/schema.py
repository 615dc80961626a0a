"""Uniqueness constraints and indexes, created once before writing.

Every statement is ``IF NOT EXISTS``, so running this again (a second run, a second worker) is a
no-op. Both Neo4j 5 and ArcadeDB's Bolt/OpenCypher accept this syntax.
"""
from __future__ import annotations

import logging
import time
from typing import List, Optional

_LOG = logging.getLogger("mmkg.graph")

CONSTRAINTS = (
    ("post_id", "Post", "id"),
    ("image_id", "Image", "id"),
    ("entity_key", "Entity", "key"),
)
# Look-ups by name (`mmkg query entity NAME`) go through the normalised name.
INDEXES = (("entity_norm", "Entity", "norm"),)


def schema_statements() -> List[str]:
    out = [
        f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
        for name, label, prop in CONSTRAINTS
    ]
    out += [f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})" for name, label, prop in INDEXES]
    return out


def ensure_schema(driver, database: Optional[str] = None, attempts: int = 5) -> None:
    """Creates the constraints and indexes that are missing. Safe to call any number of times,
    also from several processes at once: a schema change racing another one is retried."""
    from neo4j.exceptions import ClientError, TransientError

    kwargs = {"database": database} if database else {}
    for statement in schema_statements():
        for attempt in range(attempts):
            try:
                # Schema changes cannot share a transaction with data writes (Neo4j): each runs
                # alone, in an auto-commit transaction.
                with driver.session(**kwargs) as session:
                    session.run(statement).consume()
                break
            except ClientError as e:
                if "EquivalentSchemaRuleAlreadyExists" in (e.code or "") or "AlreadyExists" in (e.code or ""):
                    break
                if attempt == attempts - 1:
                    raise
            except TransientError:
                if attempt == attempts - 1:
                    raise
            time.sleep(0.1 * 2**attempt)
    _LOG.debug("graph constraints and indexes are in place")


def ensure_schema_at(settings) -> None:
    """:func:`ensure_schema` with a driver of its own (for a launcher that has only settings)."""
    driver = settings.driver()
    try:
        ensure_schema(driver, settings.database)
    finally:
        driver.close()
