"""The graph a command that only talks to the graph (query, resolve) works on, from its flags."""
from __future__ import annotations

import os
from typing import Optional, Tuple

from mmkg.kg.embedded import DATABASE, GRAPH_SUBDIR
from mmkg.kg.settings import GraphSettings
from mmkg.pipeline.options import graph_from_values


def graph_to_open(args, prog: str) -> Tuple[Optional[GraphSettings], Optional[str]]:
    """(the server the flags or environment name, None for the embedded store under --data-dir;
    a message when there is neither: no server named and no graph in --data-dir yet)."""
    explicit = graph_from_values(args.neo4j_uri, args.neo4j_username, args.neo4j_database)
    if explicit is None and not os.path.isdir(os.path.join(args.data_dir, GRAPH_SUBDIR, "databases", DATABASE)):
        return None, f"{prog}: no graph in {args.data_dir} yet (run `mmkg run` first, or give --neo4j-uri)"
    return explicit, None
