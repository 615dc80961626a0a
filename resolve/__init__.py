"""Entity resolution: one node per real-world entity, across posts and across runs (issue 24).

Pure functions over small records, no Beam here (``transforms/resolve.py`` wraps them):

- :mod:`.normalise`: names to comparison forms (case, accents, @handle / #hashtag segmentation,
  titles, possessives);
- :mod:`.records`: Mention, AltName, Alias, Decision, EntityRecord, Resolution;
- :mod:`.nodes`: name nodes (one type + one normal form) and how they combine;
- :mod:`.blocking`: blocking keys (key -> nodes, for a GroupByKey) and candidate pairs;
- :mod:`.scoring`: a pair's string relation and its context evidence, as a Decision;
- :mod:`.unionfind`: disjoint sets;
- :mod:`.cluster`: links to entities, canonical names;
- :mod:`.resolver`: ``resolve`` (whole or incremental), ``explain``, ``undo``.

docs/resolution.md has the design, the labelled set and the numbers.
"""
from mmkg.resolve.records import Alias, AltName, Decision, EntityRecord, Mention, Resolution, node_key
from mmkg.resolve.resolver import explain, mentions_of_post, resolve, undo
from mmkg.resolve.scoring import DEFAULT, Params

__all__ = ["AltName", "Alias", "Decision", "EntityRecord", "Mention", "Resolution", "node_key",
           "explain", "mentions_of_post", "resolve", "undo", "DEFAULT", "Params"]
