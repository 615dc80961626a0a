"""Where a batched relationship write spends its time: the pipeline's relationship statement
next to stripped-down variants of it, over Bolt to the embedded store, 1000 rows per
transaction.

Each variant runs over the same rows (distinct facts from bench.graph_write, entities already
in place) and writes a relationship type of its own, so none finds the edges of another:

    unwind-only    UNWIND the parameter rows and count them (Bolt + parameter decoding)
    match-both     + look up head and tail by their unique key
    merge-bare     + MERGE the edge, no properties
    merge-props    + set the provenance properties on create
    create-props   CREATE instead of MERGE, properties from a map
    pipeline       the writer's statement (kg.statements.RELATION_STATEMENTS), last, JIT warm

The JVM's JIT warms up over the first variants, so read the later rows as the steadier ones.

    python -m bench.graph_statement_cost [--rows 20000]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from bench.graph_write import as_pipeline_batches, synthetic_rows
from mmkg.kg import statements as kg_statements
from mmkg.kg import writer as kg_writer
from mmkg.kg.embedded import EmbeddedGraphStore
from mmkg.kg.schema import ensure_schema

_ENDS = "UNWIND $rows AS row MATCH (h:Entity {key: row.head}) MATCH (t:Entity {key: row.tail}) "
_ENDPOINTS = ("head", "tail")


def variants(provenance_keys):
    """The stripped-down statements; the provenance properties are those the writer's rows carry."""
    props = ", ".join(f"r.{k} = row.{k}" for k in provenance_keys)
    return {
        "unwind-only": "UNWIND $rows AS row RETURN count(*)",
        "match-both": _ENDS + "RETURN count(t)",
        "merge-bare": _ENDS + "MERGE (h)-[r:BENCH_MERGE]->(t)",
        "merge-props": _ENDS + "MERGE (h)-[r:BENCH_MERGE_PROPS]->(t) ON CREATE SET " + props,
        "create-props": _ENDS + "CREATE (h)-[r:BENCH_CREATE]->(t) SET r += row.props",
    }


def _as_map_rows(rows):
    return [{**{k: r[k] for k in _ENDPOINTS}, "props": {k: v for k, v in r.items() if k not in _ENDPOINTS}}
            for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="mmkg-bench-")
    store = EmbeddedGraphStore(tmp)
    settings = store.start()
    driver = settings.driver()
    try:
        ensure_schema(driver, settings.database)
        rows = as_pipeline_batches(synthetic_rows(args.rows, "b", seed=1))
        relation_statements = set(kg_statements.RELATION_STATEMENTS.values())
        with driver.session() as session:
            for i in range(0, len(rows), 5000):
                plan = kg_writer.plan_batch(rows[i:i + 5000])
                session.execute_write(kg_writer.run_plan, [s for s in plan if s[0] == kg_statements.ENTITIES])
        plans = [s for i in range(0, len(rows), 1000)
                 for s in kg_writer.plan_batch(rows[i:i + 1000]) if s[0] in relation_statements]

        statements = variants([k for k in plans[0][1][0] if k not in _ENDPOINTS])
        # Built before timing: the map rows are this variant's input, not part of its cost.
        map_plans = [(s, _as_map_rows(params)) for s, params in plans]

        print(f"{'statement':<13} {'rows':>7} {'seconds':>8} {'rows/s':>8}")
        for name in list(statements) + ["pipeline"]:
            start, n = time.perf_counter(), 0
            with driver.session() as session:
                for statement, params in (map_plans if name == "create-props" else plans):
                    if name != "pipeline":
                        statement = statements[name]
                    session.execute_write(lambda tx: tx.run(statement, rows=params).consume())
                    n += len(params)
            seconds = time.perf_counter() - start
            print(f"{name:<13} {n:>7} {seconds:>8.1f} {n / seconds:>8,.0f}", flush=True)
    finally:
        driver.close()
        store.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
