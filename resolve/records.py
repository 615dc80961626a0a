"""The small typed records of entity resolution. Plain frozen dataclasses: picklable for Beam, easy
to build by hand in tests, and the state a later run starts from.

Vocabulary:

- a **mention** is one occurrence of a typed name in a post;
- a **name node** is every mention of one type and one normal form (``PER:kim jong un``); its key is
  :func:`node_key`. All mentions of a node are one entity by construction (rule ``normalised``);
- a **decision** links two name nodes with a rule and a score;
- an **entity** is a cluster of name nodes: a key, a canonical name, its aliases with the posts that
  use them, and the decisions that put it together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from mmkg.resolve.normalise import normalise


def node_key(etype: str, norm: str) -> str:
    """``PER:kim jong un``: the identity of a name node (type + resolution normal form)."""
    return f"{etype}:{norm}"


@dataclass(frozen=True)
class Mention:
    """One typed name in one post. ``context`` holds the names of the other entities mentioned in
    the same post (see :func:`resolve.resolver.mentions_of_post`): co-occurrence is evidence."""

    mention_id: str
    post_id: str
    name: str
    type: str
    context: Tuple[str, ...] = ()
    # The normal form of the longer name of the same post this one is a short form of ("Kim" beside
    # "Kim Kardashian": "kim kardashian"), or "" (``resolve.inpost``).
    stands_for: str = ""
    # The code of its post's text vector (``resolve.vectors``), or "" where none was computed.
    vector: str = ""

    def node(self) -> str:
        """The key of the name node this mention belongs to: its own name's, or the name's it stands
        for in its post."""
        return node_key(self.type, self.stands_for or normalise(self.name, self.type))


@dataclass(frozen=True)
class AltName:
    """An ``alternate_names`` triple of the graph (``/per/per/alternate_names``,
    ``/org/org/alternate_names``): evidence that two names of one type are one entity."""

    head: str
    tail: str
    type: str
    post_id: str


@dataclass(frozen=True)
class Alias:
    """A surface form of an entity as it was written, the posts that use it, and the context tokens
    of those posts (what a later run needs to weigh new mentions against it)."""

    name: str
    post_ids: Tuple[str, ...] = ()
    context: Tuple[str, ...] = ()
    # A short form written beside the full name in its posts ("Kim" in posts that also name "Kim
    # Kardashian"): the normal form of the node it belongs to, in those posts only; "" for a name
    # that belongs to the node of its own normal form.
    stands_for: str = ""
    # A sample of its posts' text vectors: (post id, code), ``vectors.sample`` of them.
    vectors: Tuple[Tuple[str, str], ...] = ()

    def node(self, etype: str) -> str:
        """The key of the name node this alias belongs to."""
        return node_key(etype, self.stands_for or normalise(self.name, etype))


def post_node(post_id: str, node: str) -> str:
    """The key of a name node in one post (:attr:`Resolution.in_post`)."""
    return f"{post_id}\t{node}"


def in_post_nodes(entities) -> Dict[str, str]:
    """``post_node(post, short node)`` -> the node its short form stands for in that post, over the
    aliases of ``entities`` (:class:`EntityRecord`)."""
    out: Dict[str, str] = {}
    for e in entities:
        for a in e.aliases:
            if a.stands_for:
                short = node_key(e.type, normalise(a.name, e.type))
                for p in a.post_ids:
                    out[post_node(p, short)] = a.node(e.type)
    return out


# Decision rules. ``normalised`` ties surface forms of one node; the others tie two nodes.
NORMALISED = "normalised"
COMPACT = "compact"  # same letters without spaces: "@KimJongUn" / "Kim Jong Un"
FUZZY = "fuzzy"  # same token count, every token equal or a close spelling (rapidfuzz)
SUBSET = "subset"  # one name's words are a part of the other's: "Trump" / "Donald Trump"
ACRONYM = "acronym"  # "US" / "United States"
KNOWN_CODE = "known-code"  # a place's code that stands for one place: "NJ" / "New Jersey"
HANDLE_AFFIX = "handle-affix"  # a handle that starts or ends with the other name: "@nytimes"...
ACCOUNT = "account"  # a handle written as the other name's account: "@LouvreMuseum" / "Louvre"
ALT_NAMES = "alt-names"  # an alternate_names triple, with no string relation
MANUAL_SPLIT = "manual-split"  # an undone link: never merge these two nodes


@dataclass(frozen=True)
class Decision:
    """A scored link between two name nodes (keys ``a`` and ``b``, ``a < b`` unless ``dependent``
    says which side is the short, ambiguous one).

    ``firm`` links merge outright (union-find). A link that is not firm has a *dependent* side (the
    shorter name: "Kim" in "Kim" / "Kim Jong Un"); the dependent joins the best-scoring entity among
    all its links only if the score reaches the threshold for its kind and beats the runner-up
    entity by the margin. ``features`` is what the score was made of, for explanations.
    """

    a: str
    b: str
    rule: str
    score: float
    firm: bool
    dependent: str = ""
    features: Tuple[Tuple[str, float], ...] = ()

    @property
    def pair(self) -> Tuple[str, str]:
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)

    @property
    def other(self) -> str:
        """The side that is not the dependent (the longer name of a dependent link)."""
        return self.b if self.dependent == self.a else self.a


@dataclass(frozen=True)
class EntityRecord:
    """One resolved entity, as the graph keeps it and as a later run reads it back.

    ``key`` is ``TYPE:norm`` of the canonical name node; ``aliases`` are every surface form with its
    posts; ``decisions`` are the links that touch this entity's name nodes (a link between two
    entities, left unmerged for ambiguity, is kept on both). ``nodes`` lists the name-node keys.
    """

    key: str
    name: str
    type: str
    aliases: Tuple[Alias, ...] = ()
    decisions: Tuple[Decision, ...] = ()
    nodes: Tuple[str, ...] = ()
    # The version of the rules that made ``decisions`` (``scoring.RULES``); "" for a record of an
    # older run. A later run keeps the recorded links of a record of its own rules only.
    rules: str = ""

    def alias_names(self) -> Tuple[str, ...]:
        return tuple(a.name for a in self.aliases)


def _node_in(in_post: Dict[str, str], name: str, etype: str, post_id: Optional[str]) -> str:
    node = node_key(etype, normalise(name, etype))
    return in_post.get(post_node(post_id, node), node) if post_id is not None and in_post else node


@dataclass(frozen=True)
class Identities:
    """What a graph writer needs of a :class:`Resolution`: name node -> entity key, entity key ->
    canonical name. Only strings: a side input this flat costs a Beam worker little to cache (the
    runner measures a cached value's size object by object)."""

    node_entity: Dict[str, str]
    names: Dict[str, str]
    in_post: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, resolution: "Resolution") -> "Identities":
        return cls(dict(resolution.node_entity), {k: e.name for k, e in resolution.entities.items()},
                   dict(resolution.in_post))

    def key_of(self, name: str, etype: str, post_id: Optional[str] = None) -> Optional[str]:
        return self.node_entity.get(_node_in(self.in_post, name, etype, post_id))

    def name_of(self, key: str) -> str:
        return self.names[key]


@dataclass
class Resolution:
    """What :func:`resolve.resolver.resolve` returns.

    - ``entities``: by key, sorted;
    - ``node_entity``: name-node key -> entity key (``key_of(name, type)`` looks a name up);
    - ``mention_entity``: mention id -> entity key, for the mentions of this run;
    - ``redirects``: an entity key of the records given in -> the key that now holds it, where they
      differ (an entity merged into another, or renamed because a better canonical name arrived);
    - ``decisions``: every link (firm or not) and every attachment made, for explanation;
    - ``moves``: (old key, new key, post ids) where a name node left an entity given in (new
      evidence undid an attachment): the posts whose every name for the old entity now belongs to
      the new one, so that their mentions and the facts they alone support follow the name;
    - ``read``: for each redirected entity, the digest of its record as the run read it (set by the
      Beam stage; the graph writer folds an entity away only if its record is still that one);
    - ``in_post``: where a short form stands for a longer name of its post (``post_node(post, node)``
      -> node, :func:`in_post_nodes`): ``key_of(name, type, post_id)`` looks a name up in its post.
    """

    entities: Dict[str, EntityRecord] = field(default_factory=dict)
    node_entity: Dict[str, str] = field(default_factory=dict)
    mention_entity: Dict[str, str] = field(default_factory=dict)
    redirects: Dict[str, str] = field(default_factory=dict)
    decisions: Tuple[Decision, ...] = ()
    moves: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = ()
    read: Dict[str, Optional[str]] = field(default_factory=dict)
    in_post: Dict[str, str] = field(default_factory=dict)

    def key_of(self, name: str, etype: str, post_id: Optional[str] = None) -> Optional[str]:
        return self.node_entity.get(_node_in(self.in_post, name, etype, post_id))

    def name_of(self, key: str) -> str:
        return self.entities[key].name

    def clusters(self) -> Tuple[Tuple[str, ...], ...]:
        """The partition of name nodes, sorted: what two runs must agree on."""
        by_entity: Dict[str, list] = {}
        for node, ent in self.node_entity.items():
            by_entity.setdefault(ent, []).append(node)
        return tuple(sorted(tuple(sorted(v)) for v in by_entity.values()))
