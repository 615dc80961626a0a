"""Graph writes over Bolt to the embedded store: relationship rows/s batched (1000 per
transaction) vs one row per transaction.

Two measures, each on distinct facts over a pool of 32k entities:

- relationships: the relationship statement alone (``UNWIND $rows ... MERGE (h)-[r:TYPE]->(t)``
  with provenance), entities already in place;
- triples (full path): what the pipeline writes per triple (kg.writer.write_rows): MERGE both
  entities, the post and its MENTIONS edges, then the relationship.

The one-per-transaction modes run on a sample (--single rows; at their speed 100k rows would
take many minutes); rows/s is a per-row rate either way. Batches are formed as WriteGraph forms
them: one relation label per batch (kg.rows.batch_key).

Targets (issue 5): batched >= 10,000 rows/s and >= 20x the one-per-transaction rate.

    python -m bench.graph_write [--relations 100000] [--batch-size 1000] [--single 3000]
    python -m bench.graph_write --neo4j-uri bolt://host:7687   # a real Neo4j (NEO4J_PASSWORD)
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import tempfile
import time
from typing import List, Tuple

from mmkg.kg import queries
from mmkg.kg import rows as kg_rows
from mmkg.kg import statements as kg_statements
from mmkg.kg import writer as kg_writer
from mmkg.kg.schema import ensure_schema
from mmkg.pipeline.options import graph_from_values
from mmkg.schemas.records import Triple
from mmkg.schemas.relations import RELATIONS, implied_types

POOL = {"PER": 20000, "ORG": 4000, "LOC": 4000, "MISC": 4000}


def synthetic_rows(n: int, prefix: str, seed: int) -> List[dict]:
    """``n`` distinct triple rows; about two triples per post, as in MNRE."""
    rng = random.Random(seed)
    labels = [label for label in RELATIONS[1:]]
    seen, rows = set(), []
    while len(rows) < n:
        label = rng.choice(labels)
        h_type, t_type = implied_types(label)
        h, t = rng.randrange(POOL[h_type]), rng.randrange(POOL[t_type])
        if (label, h_type, h, t_type, t) in seen or (h_type == t_type and h == t):
            continue
        seen.add((label, h_type, h, t_type, t))
        i = len(rows)
        rows.append(kg_rows.triple_row(Triple(
            f"{prefix} {h_type.lower()} {h}", h_type, label, f"{prefix} {t_type.lower()} {t}", t_type,
            round(rng.uniform(0.3, 1.0), 3), rng.choice(("guide", "llm")), f"{prefix}-post-{i // 2}",
            f"{prefix}-img-{i // 2}.jpg", "guide-bench", "llm-bench" if i % 3 == 0 else "",
        )))
    return rows


def as_pipeline_batches(rows: List[dict]) -> List[dict]:
    """Rows in the order WriteGraph batches them: grouped by kind and relation label."""
    return sorted(rows, key=kg_rows.batch_key)


def _cpu() -> float:
    """CPU seconds of this process: the client and, for the embedded store, the server's JVM."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_write(driver, rows, batch_size, database) -> Tuple[float, float]:
    """The pipeline's path: every statement a batch needs, in one transaction per batch.
    Returns (wall seconds, CPU seconds)."""
    rows = as_pipeline_batches(rows)
    start, cpu = time.perf_counter(), _cpu()
    for i in range(0, len(rows), batch_size):
        kg_writer.write_rows(driver, rows[i:i + batch_size], database)
    return time.perf_counter() - start, _cpu() - cpu


def timed_relationships(driver, rows, batch_size, database) -> Tuple[float, float]:
    """Relationship statements only (one UNWIND per relation type per transaction); the entities
    they MATCH are written first, untimed."""
    relation_statements = set(kg_statements.RELATION_STATEMENTS.values())
    rows = as_pipeline_batches(rows)
    kwargs = {"database": database} if database else {}
    with driver.session(**kwargs) as session:
        for i in range(0, len(rows), 5000):
            plan = kg_writer.plan_batch(rows[i:i + 5000])
            session.execute_write(kg_writer.run_plan, [s for s in plan if s[0] == kg_statements.ENTITIES])
        plans = [
            [s for s in kg_writer.plan_batch(rows[i:i + batch_size]) if s[0] in relation_statements]
            for i in range(0, len(rows), batch_size)
        ]
        start, cpu = time.perf_counter(), _cpu()
        for plan in plans:
            session.execute_write(kg_writer.run_plan, plan)
        return time.perf_counter() - start, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--single", type=int, default=3000, help="rows written one per transaction")
    parser.add_argument("--data-dir", default=None, help="embedded store location (default: a temp dir, removed)")
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--neo4j-username", default=None)
    parser.add_argument("--neo4j-database", default=None)
    args = parser.parse_args()

    explicit = graph_from_values(args.neo4j_uri, args.neo4j_username, args.neo4j_database)
    tmp = None
    store = None
    if explicit is None:
        from mmkg.kg.embedded import EmbeddedGraphStore

        tmp = None if args.data_dir else tempfile.mkdtemp(prefix="mmkg-bench-")
        store = EmbeddedGraphStore(args.data_dir or tmp)
        t0 = time.perf_counter()
        settings = store.start()
        startup = time.perf_counter() - t0
        where = f"embedded ArcadeDB over Bolt ({settings.uri}), started in {startup:.1f} s"
    else:
        settings = explicit
        where = f"{settings.uri}"
    driver = settings.driver()
    try:
        ensure_schema(driver, settings.database)
        batched_rows = synthetic_rows(args.relations, "b", seed=1)
        single_rows = synthetic_rows(args.single, "s", seed=2)
        # A short warm-up (JIT, plan caches) in its own key space, not timed.
        timed_write(driver, synthetic_rows(2000, "w", seed=3), args.batch_size, settings.database)

        results = [
            ("relationships", args.batch_size, len(batched_rows),
             timed_relationships(driver, batched_rows, args.batch_size, settings.database)),
            ("relationships", 1, len(single_rows), timed_relationships(driver, single_rows, 1, settings.database)),
        ]
        batched_rows = synthetic_rows(args.relations, "B", seed=4)
        single_rows = synthetic_rows(args.single, "S", seed=5)
        results += [
            ("triples (full path)", args.batch_size, len(batched_rows),
             timed_write(driver, batched_rows, args.batch_size, settings.database)),
            ("triples (full path)", 1, len(single_rows), timed_write(driver, single_rows, 1, settings.database)),
        ]
        counts = dict(queries.stats(driver, settings.database)["types"])
    finally:
        driver.close()
        if store is not None:
            store.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    table = [("rows", "per tx", "rows written", "transactions", "seconds", "rows/s", "CPU s", "rows/CPU s")]
    rates, cpu_rates = {}, {}
    for what, per_tx, n, (seconds, cpu) in results:
        rates[(what, per_tx)] = n / seconds
        cpu_rates[(what, per_tx)] = n / cpu
        table.append((what, str(per_tx), f"{n}", f"{-(-n // per_tx)}", f"{seconds:.1f}", f"{n / seconds:,.0f}",
                      f"{cpu:.1f}", f"{n / cpu:,.0f}"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print(f"\ngraph writes: {where}; CPUs: {os.cpu_count()}, load average now: {os.getloadavg()[0]:.1f}")
    for i, row in enumerate(table):
        print("  " + "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print("\n  (CPU s: this process's CPU time, client and embedded server together; rows/CPU s is what")
    print("  an unloaded core would do, the writer being one thread waiting on the server in turn)\n")
    for what in ("relationships", "triples (full path)"):
        batched, single = rates[(what, args.batch_size)], rates[(what, 1)]
        print(f"  {what}: batched {batched:,.0f} rows/s ({'met' if batched >= 10_000 else 'MISSED'} >= 10,000), "
              f"{batched / single:.1f}x one-per-tx ({'met' if batched / single >= 20 else 'MISSED'} >= 20x); "
              f"per CPU second {cpu_rates[(what, args.batch_size)]:,.0f} vs {cpu_rates[(what, 1)]:,.0f}")
    edges = sum(n for t, n in counts.items() if t not in ("MENTIONS", "HAS_IMAGE"))
    print(f"  relation edges in the store at the end: {edges}")

if __name__ == "__main__":
    main()
