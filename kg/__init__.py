"""The knowledge graph: connection settings, the embedded Bolt store, Cypher, queries.

Everything here speaks Bolt through the official neo4j driver, so the same code writes to a real
Neo4j or to the embedded ArcadeDB server that :mod:`kg.embedded` starts when no URI is given.
"""
