"""A true union-find (disjoint sets, path halving, union by size) over string keys.

Each set also remembers its smallest key, so a set has a name that does not depend on the order
of the unions: ``label(x)`` is that smallest key. Linking is transitive by construction: after
``union(a, b)`` and ``union(b, c)``, ``find(a) == find(c)``.
"""
from __future__ import annotations

from typing import Dict, Iterable, List


class UnionFind:
    def __init__(self, items: Iterable[str] = ()) -> None:
        self._parent: Dict[str, str] = {}
        self._size: Dict[str, int] = {}
        self._least: Dict[str, str] = {}
        for x in items:
            self.add(x)

    def add(self, x: str) -> None:
        if x not in self._parent:
            self._parent[x] = x
            self._size[x] = 1
            self._least[x] = x

    def __contains__(self, x: str) -> bool:
        return x in self._parent

    def __len__(self) -> int:
        return len(self._parent)

    def find(self, x: str) -> str:
        self.add(x)
        parent = self._parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> bool:
        """Joins the sets of ``a`` and ``b``; False if they were one set already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]
        self._least[ra] = min(self._least[ra], self._least[rb])
        return True

    def same(self, a: str, b: str) -> bool:
        return self.find(a) == self.find(b)

    def label(self, x: str) -> str:
        """The smallest key of ``x``'s set: a name for the set that any union order agrees on."""
        return self._least[self.find(x)]

    def groups(self) -> List[List[str]]:
        """Every set, each sorted, sorted by its first key."""
        out: Dict[str, List[str]] = {}
        for x in self._parent:
            out.setdefault(self.find(x), []).append(x)
        return sorted((sorted(v) for v in out.values()), key=lambda g: g[0])
