"""Scoring a candidate pair of name nodes: a string relation first, then the evidence for it.

``score_pair(a, b, alt_posts, params)`` returns a :class:`Decision` or None (no link). It depends on
the two nodes and their alternate_names support only, never on the rest of the data, so a pair
scored in one run scores the same in any other run that holds the same two nodes.

String relations (first that holds):

- ``compact``: same letters without spaces ("@KimJongUn" / "Kim Jong Un"): firm;
- ``account``: a handle written as the other name's account (``accounts.spells_account``:
  "@LouvreMuseum" / "Louvre", "@realDonaldTrump" / "Donald Trump"): firm;
- ``fuzzy``: the same tokens in another order, or the same number of tokens each equal or, for
  words of ``FUZZY_MIN_LEN`` letters or more, a rapidfuzz ratio >= ``params.fuzzy``: firm. Short
  words must be equal ("Kim Jong Un" / "Kim Jong Il" is no link); two single words by where they
  differ (``fuzzy_min``: by default only a handle's number, "StephenCurry" / "StephenCurry30");
- ``known-code``: a place's code that stands for one place (``abbreviations``: "NJ" / "New Jersey",
  "#nyc" / "New York City"), written in capitals or as a tag: firm;
- ``subset``: the words of one are a proper part of the other's ("Trump" / "Donald Trump"), in
  order and in one run when they are several (``part_of``);
- ``acronym``: one is the initials of the other ("US" / "United States");
- ``handle-affix``: a handle that did not segment starts or ends with the other name
  ("@chelseafc" / "Chelsea");
- otherwise none, and only alternate_names triples can link the pair (``alt-names``).

Subset, acronym and handle-affix links are not firm: their short side is the *dependent*, which
joins an entity through them only on enough context (``cluster.cluster``), unless alternate_names
triples of ``params.alt_alone`` posts link the two names. The context score:

    score = 2 * min(shared posts, 2) + min(shared context tokens, 5) + 3 * min(alt_names posts, 2)

where shared posts are posts that mention both names (a tweet that names "Louvre" and tags
@LouvreMuseum; or writes "Trump" beside "Donald Trump", a short form that is a mention of the
longer name's node in its post, ``inpost``), and context tokens are the words of the other
entities in the posts of each name ("Trump", "Singapore" around both "Kim" and "Kim Jong Un"), less
the two names' own words.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Iterable, Optional, Tuple

from rapidfuzz.fuzz import ratio

from mmkg.resolve.abbreviations import PLACE, expansions, is_code
from mmkg.resolve.accounts import spells_account
from mmkg.resolve.nodes import NameNode
from mmkg.resolve.normalise import NameForm, is_hashtag, name_form
from mmkg.resolve.records import (
    ACCOUNT,
    ACRONYM,
    ALT_NAMES,
    COMPACT,
    FUZZY,
    HANDLE_AFFIX,
    KNOWN_CODE,
    SUBSET,
    Decision,
)
from mmkg.resolve.vectors import cosine

# The version of the linking rules. Change it with any change to normalisation, blocking, scoring
# or the kinds that makes a link recorded by an earlier run differ from what scoring gives now: a
# run re-scores the pairs of entities recorded under other rules instead of keeping their links.
RULES = "2026-12-07.7"
NEVER = float("inf")  # a threshold no context score reaches
FUZZY_MIN_LEN = 5
SHORT_CHARS = 3  # a single word this short ("Kim", "Un", "US") is ambiguous


@dataclass(frozen=True)
class Params:
    """Thresholds (docs/resolution.md says how they were chosen: cross-validation)."""

    # Chosen by grouped 5-fold cross-validation (python -m bench.resolution): fuzzy, ctx_word,
    # ctx_surname, ctx_short, ctx_acronym and margin on the val pairs
    # (bench/annotations/resolution_pairs.jsonl), where the same configuration won on every fold but
    # one; the others on the train files' pairs (resolution_pairs_train.jsonl, --corpus train), so
    # each set reads the other's thresholds held out (docs/resolution.md). The fuzzy ratio is the
    # exception: no labelled pair turns on it (88 and 92 score the same), and 88 lets a one-letter
    # slip in a ten-letter word merge ("Zuckerburg").
    fuzzy: float = 88.0  # rapidfuzz ratio per differing word
    # Two single words that differ only in a letter ending ("Nigeria" / "Nigerian", "Celtic" /
    # "Celtics"), by type. Chosen by grouped cross-validation on every such link of the train files
    # (bench/annotations/resolution_spelling_train.jsonl, --corpus train): none reaches 97 %
    # (places 11 of 13 the same, works and events 6 of 8, organisations 3 of 7, persons 3 of 10),
    # so all are off (docs/resolution.md).
    fuzzy_word_per: float = NEVER  # "Robert" / "Roberto"
    fuzzy_word_org: float = NEVER  # "Celtic" / "Celtics"
    fuzzy_word_loc: float = NEVER  # "Nigeria" / "Nigerian"
    fuzzy_word_misc: float = NEVER  # "Republican" / "Republicans"
    # ... that differ elsewhere ("Hollywood" / "Nollywood", "Haley" / "Hayley"): 1 of 19 the same.
    fuzzy_word_changed: float = NEVER
    # ... where one is the other and a number, as handles are ("StephenCurry" / "StephenCurry30").
    fuzzy_word_number: float = 88.0
    # A dependent of two or more words that is not a person's name ("San Diego" / "San Diego Stadium",
    # "World Cup" / "World Cup Francia 1938") joins no entity on context: on 143 labelled pairs of
    # the train files such links were right 45 % of the time, and no context threshold reached 97 %
    # (python -m bench.resolution --corpus train ...; docs/resolution.md). Only alternate_names
    # triples (``alt_alone`` posts) link them.
    ctx_multi: float = NEVER
    ctx_multi_person: float = 1.0  # a person's name of two or more words ("Kim Jong", "Van Persie")
    ctx_designator: float = 0.0  # a name the other only adds a designator to ("New York" / "... City")
    ctx_word: float = 3.0  # a person's single word of four letters or more that is no surname ("Ariana")
    # A single word of a place, a work or event, or an organisation that does not end the other
    # name, is mostly a part of it or a neighbour ("Penang" / "Penang Road", "Olympics" / "Barcelona
    # Olympics", "Cleveland" / "Cleveland Cavaliers"), with or without shared context: on the 125
    # labelled single-word pairs of the train files with a context score of 1 or more, 10 of 40 for
    # places, 3 of 18 for works and events, 15 of 34 for organisations were the same thing. An
    # organisation's word that ends the other name (a team's nickname) was the same in 32 of 33.
    ctx_word_org: float = NEVER  # "Cleveland" / "Cleveland Cavaliers"
    ctx_word_org_head: float = 1.0  # "Cavaliers" / "Cleveland Cavaliers"
    ctx_word_loc: float = NEVER  # "Penang" / "Penang Road"
    ctx_word_misc: float = NEVER  # "Olympics" / "2020 Summer Olympics"
    ctx_surname: float = 1.0  # a person's single word that ends the other name ("Obama")
    ctx_short: float = 3.0  # a person's single word of three letters or fewer ("Kim", "Un")
    ctx_acronym: float = 2.0  # a dependent that is the other's initials ("US", "NJ")
    margin: float = 1.0  # best entity's score minus the runner-up's, when a dependent has several
    alt_alone: int = 2  # alternate_names posts that link two names with no string relation
    # Points a pair's context score gains when the texts of their posts read alike: the cosine of the
    # two names' mean text vectors (``resolve.vectors``, MiniLM) at least ``text_similar``. Chosen on
    # the val pairs with the thresholds above by the same grouped cross-validation (1 point at 0.6 on
    # three folds of five and on all pairs; 2 at 0.6 and 1 at 0.5 on the others); held out on the
    # train pairs it adds 4 right merges of 115 and no wrong one (docs/resolution.md, "Text vectors").
    text_points: float = 1.0
    text_similar: float = 0.6


DEFAULT = Params()


def rules_of(params: Params = DEFAULT) -> str:
    """The version a record made with ``params`` carries: ``RULES``, then every threshold that is
    not the default ("2026-12-07.2;fuzzy_word_loc=88.0"). A run keeps the recorded links only of
    records of its own version, so a graph resolved with other thresholds is scored again rather
    than mixed; and ``mmkg query entity`` explains a record with the thresholds that made it."""
    changed = [f"{f.name}={getattr(params, f.name)}" for f in fields(Params)
               if getattr(params, f.name) != getattr(DEFAULT, f.name)]
    return ";".join([RULES] + changed)


def params_of(rules: str) -> Params:
    """The thresholds a record's ``rules`` version names (the defaults for any it does not, and for
    any this version does not know: a record of another version is scored again anyway)."""
    return params_with(rules.split(";")[1:], strict=False)


def params_with(settings: Iterable[str], strict: bool = True) -> Params:
    """The defaults with these ``NAME=VALUE`` settings (``parse_param``); ``strict``: raise
    ValueError on a bad one, else skip it."""
    changed = {}
    for text in settings:
        try:
            name, value = parse_param(text)
        except ValueError:
            if strict:
                raise
            continue
        changed[name] = value
    return replace(DEFAULT, **changed)


def parse_param(text: str) -> Tuple[str, float]:
    """``NAME=VALUE`` -> (field, value) for :class:`Params` (``--resolve-param``); ``never`` or
    ``inf`` for a threshold no context reaches. Raises ValueError saying what is wrong."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip().lower()
    known = {f.name: f for f in fields(Params)}
    if not sep or name not in known:
        raise ValueError(f"{text!r}: expected NAME=VALUE with NAME one of {', '.join(known)}")
    try:
        number = NEVER if value in ("never", "inf") else float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {value!r} is not a number (or 'never')") from None
    if number < 0 or number != number:
        raise ValueError(f"{text!r}: a threshold is a number >= 0")
    if known[name].type in (int, "int"):
        if number == NEVER or number != int(number):
            raise ValueError(f"{text!r}: {name} is a whole number")
        return name, int(number)
    return name, number


WORD_KINDS = {"ORG": "word_org", "LOC": "word_loc", "MISC": "word_misc"}


def dependent_kind(node: NameNode, rule: str, other: Optional[NameNode] = None) -> str:
    """``multi``, ``multi_person``, ``designator``, ``acronym``, ``short``, ``surname``, ``word`` (a
    person's), ``word_org_head`` (an organisation's word that ends the other name, as a team's
    nickname does), ``word_org``, ``word_loc`` or ``word_misc``: which context threshold a dependent
    link needs. A surname is a person's single word that is the last word of the other
    name: far more specific than a first name ("Obama" / "Barack Obama" against "Josh" / "Josh Dun")."""
    return kind_of(node.form, node.type, rule, other.form if other is not None else None)


def kind_of(f: NameForm, etype: str, rule: str, other: Optional[NameForm] = None) -> str:
    """:func:`dependent_kind` on the two names' forms."""
    if rule == ACRONYM:
        return "acronym"
    if len(f.tokens) > 1:
        if etype == "PER":
            return "multi_person"
        if other is not None and _designated(f.tokens, other.tokens):
            return "designator"
        return "multi"
    ends_other = other is not None and bool(other.tokens) and other.tokens[-1] == f.tokens[0]
    if etype == "ORG" and ends_other and f.tokens[0] not in GENERIC_HEADS:
        return "word_org_head"
    if etype != "PER":
        return WORD_KINDS[etype]
    if len(f.compact) <= SHORT_CHARS:
        return "short"
    return "surname" if ends_other else "word"


# A person's first name or short word joins its entity with every post that writes it, and the text of
# a sample of those posts is weak evidence of which person they mean: such a name needs names in
# common ("short or ambiguous names merge only on strong context"). Read on 3,000 raw train posts:
# with the text point, bare "Jack" x5 joined "Jack Russell Terrier" (docs/resolution.md).
TEXT_BLIND_KINDS = frozenset({"word", "short"})
# Nor does the text choose between two entities a name could join: posts about Barack and about
# Michelle Obama read alike, and on 2,000 raw Twitter train posts a cosine of 0.62 against 0.55 sent
# the bare "Obama" x6 to Michelle (docs/resolution.md, "Every merge of 2,000 new raw posts"). A dependent with
# several candidate entities is decided on names in common alone (``cluster.cluster``).

KIND_WORDS = {
    "multi": "a name of several words inside a longer one", "multi_person": "a person's name inside a longer one",
    "designator": "a name the other only adds a designator to", "acronym": "the other's initials",
    "short": "a person's word of three letters or fewer", "surname": "a person's surname",
    "word": "a person's single word", "word_org_head": "an organisation's word ending the other name",
    "word_org": "an organisation's word", "word_loc": "a place's single word", "word_misc": "a single word",
}


def what_it_needs(dependent_key: str, other_key: str, rule: str, params: Params = DEFAULT) -> str:
    """Why a dependent link is not a merge, in words, from the two name nodes' keys
    (``TYPE:normal form``): what the dependent's kind needs (``mmkg query entity``'s kept-apart lines)."""
    etype, _, norm = dependent_key.partition(":")
    other_norm = other_key.partition(":")[2]
    kind = kind_of(name_form(norm, etype), etype, rule, name_form(other_norm, etype))
    need = threshold(kind, params)
    if need == NEVER:
        return f"{KIND_WORDS[kind]} joins no entity on context ({kind})"
    how = (f"({kind}, from names in common: its posts' text does not count)" if kind in TEXT_BLIND_KINDS
           else f"({kind}); between entities, from names in common alone")
    return (f"{KIND_WORDS[kind]} needs a context score of {need:g} and {params.margin:g} more than any other "
            f"entity it could join {how}")


# Words that name what kind of thing a name is without making it another thing: "New York" /
# "New York City", "Ohio State" / "Ohio State University", "Leicester City" / "Leicester City
# Football Club". A name followed by other words is mostly a part or a sibling of it ("San Diego
# Stadium", "Percy Jackson 2", "NBA Finals MVP").
DESIGNATORS = frozenset({"city", "university", "college", "club", "football", "fc", "afc", "cf", "inc", "ltd",
                         "co", "corp", "corporation", "company", "group"})


# Nouns that say what kind of institution a name is ("White House", "Veteran Congress", "Reuters
# TV", "The Office"). Alone they name the best-known such institution or none, not the one that ends
# with them, so they are no team nickname ("Cavaliers" / "Cleveland Cavaliers"): an organisation's
# word among them joins no entity on context (``word_org``). Read in the merges of the raw-post and
# val graphs (docs/resolution.md), listed from what such names are, not fitted to a labelled set.
GENERIC_HEADS = frozenset({
    "house", "congress", "senate", "parliament", "assembly", "council", "committee", "commission", "court",
    "office", "ministry", "department", "government", "police", "army", "navy", "party", "tv", "news", "radio",
    "live", "media", "times", "post", "press", "network", "channel", "bank", "school", "hospital", "museum",
    "church", "foundation", "institute", "agency", "bureau", "center", "centre", "airport", "station", "store",
    "team", "league", "association", "federation", "board", "authority", "service", "services", "magazine",
    "studios", "records", "entertainment", "official",
})


def _designated(short: Tuple[str, ...], long_: Tuple[str, ...]) -> bool:
    n = len(short)
    return long_[:n] == short and len(long_) > n and all(t in DESIGNATORS for t in long_[n:])


# The Params field that holds each kind's threshold.
_KIND_FIELD = {"multi": "ctx_multi", "multi_person": "ctx_multi_person", "designator": "ctx_designator",
               "word_org": "ctx_word_org", "word_org_head": "ctx_word_org_head", "word_loc": "ctx_word_loc",
               "word_misc": "ctx_word_misc", "word": "ctx_word", "surname": "ctx_surname", "short": "ctx_short",
               "acronym": "ctx_acronym"}


def threshold(kind: str, params: Params) -> float:
    return getattr(params, _KIND_FIELD[kind])


_FUZZY_WORD = {"PER": "fuzzy_word_per", "ORG": "fuzzy_word_org", "LOC": "fuzzy_word_loc", "MISC": "fuzzy_word_misc"}


def word_change(x: str, y: str) -> str:
    """Where two different words differ: ``number`` (one is the other and digits, "taylorswift13"),
    ``ending`` (one is the other and letters, "nigerian", "celtics"), else ``changed``."""
    short, long_ = sorted((x, y), key=lambda w: (len(w), w))
    if len(long_) > len(short) and long_.startswith(short):
        return "number" if long_[len(short):].isdigit() else "ending"
    return "changed"


def fuzzy_min(a: NameNode, b: NameNode, params: Params = DEFAULT) -> float:
    """The rapidfuzz ratio a differing word needs: ``params.fuzzy``, or for two single words the
    threshold of where they differ (a changed letter, a number) and, for an ending, of their type:
    two persons' first names a letter apart are mostly two persons."""
    if len(a.form.tokens) == 1 and len(b.form.tokens) == 1:
        change = word_change(a.form.tokens[0], b.form.tokens[0])
        if change == "number":
            return params.fuzzy_word_number
        if change == "changed":
            return params.fuzzy_word_changed
        return getattr(params, _FUZZY_WORD[a.type])
    return params.fuzzy


def _fuzzy(ta: Tuple[str, ...], tb: Tuple[str, ...], min_ratio: float) -> Optional[float]:
    if sorted(ta) == sorted(tb):
        return 100.0
    if len(ta) != len(tb):
        return None
    worst = 100.0
    for x, y in zip(ta, tb):
        if x == y:
            continue
        if min(len(x), len(y)) < FUZZY_MIN_LEN:
            return None
        r = ratio(x, y)
        if r < min_ratio:
            return None
        worst = min(worst, r)
    return worst


GENERATIONS = frozenset({"jr", "sr", "ii", "iii", "iv"})


def part_of(short: Tuple[str, ...], long_: Tuple[str, ...], etype: str) -> bool:
    """Whether a name whose words are a subset of another's can be a short form of it.

    A name of several words must be a run of the other's words, in order: "Star Fox" is no short
    form of "Fox Star India", nor "City Club" of "Leicester City Football Club". A person's middle
    initials are skipped ("Donald Trump" in "Donald J Trump"; "Michael Jordan" in "Michael B Jordan"
    too: the context decides that one). A person's generation marks another person: "Donald Trump"
    is not "Donald Trump Jr" (read on the train files: the multi-part pairs of
    bench/annotations/resolution_pairs_train.jsonl)."""
    if etype == "PER" and (set(long_) - set(short)) & GENERATIONS:
        return False
    if len(short) < 2:
        return True
    if etype == "PER":
        long_ = tuple(t for t in long_ if len(t) > 1 or t in short)
    n = len(short)
    return any(long_[i:i + n] == short for i in range(len(long_) - n + 1))


def place_code(node: NameNode) -> bool:
    """A place's name written as the known code of one place ("NJ", "#nyc"; ``abbreviations``)."""
    return (node.type == PLACE and len(node.form.tokens) == 1 and bool(expansions(node.form.compact))
            and is_code(al.name for al in node.aliases if not al.stands_for))


def _hashtag(node: NameNode) -> bool:
    """Every way the node's name is written is a #hashtag."""
    written = [al.name for al in node.aliases if not al.stands_for]
    return bool(written) and all(is_hashtag(w) for w in written)


def string_relation(a: NameNode, b: NameNode, params: Params = DEFAULT) -> Optional[Tuple[str, float, str]]:
    """(rule, similarity 0-100, dependent key or "") for the first relation that holds, or None."""
    fa, fb = a.form, b.form
    if fa.compact == fb.compact:
        return COMPACT, 100.0, ""
    fz = _fuzzy(fa.tokens, fb.tokens, fuzzy_min(a, b, params))
    if fz is not None:
        return FUZZY, fz, ""
    for h, other in ((a, b), (b, a)):
        if h.form.handle and not other.form.handle and spells_account(h.form.compact, other.form.compact, h.type):
            return ACCOUNT, 100.0 * len(other.form.compact) / len(h.form.compact), ""
    for code, other in ((a, b), (b, a)):
        if place_code(code):
            if other.norm in expansions(code.form.compact):
                return KNOWN_CODE, 100.0 * len(code.form.compact) / max(1, len(other.form.compact)), ""
            # A code stands for its one place: no other name's initials or part ("CA" / "Collins
            # Avenue", "CA" / "CA Dist 43").
            return None
    sa, sb = set(fa.tokens), set(fb.tokens)
    if sa < sb or sb < sa:
        short, long_ = (a, b) if sa < sb else (b, a)
        if not part_of(short.form.tokens, long_.form.tokens, short.type):
            return None
        if not short.form.handle and _hashtag(long_):
            # A hashtag that adds words to a name is a campaign or a topic, not what it names
            # ("#BlatterOut" / "Blatter", "#Trump2016"); read in the merges of 2,000 raw posts.
            return None
        sim = 100.0 * len(short.form.compact) / max(1, len(long_.form.compact))
        return SUBSET, sim, short.key
    for short, long_ in ((a, b), (b, a)):
        if len(short.form.tokens) == 1 and long_.form.acronym and short.form.compact == long_.form.acronym:
            return ACRONYM, 100.0 * len(short.form.compact) / max(1, len(long_.form.compact)), short.key
    for h, other in ((a, b), (b, a)):
        hc, oc = h.form.compact, other.form.compact
        if (h.form.handle and len(h.form.tokens) == 1 and len(oc) >= 4 and len(oc) * 2 >= len(hc)
                and (hc.startswith(oc) or hc.endswith(oc))):
            return HANDLE_AFFIX, 100.0 * len(oc) / len(hc), other.key
    return None


def context_features(a: NameNode, b: NameNode, alt_posts: int = 0) -> Tuple[Tuple[str, float], ...]:
    own = set(a.form.tokens) | set(b.form.tokens)
    # A post that writes one name beside the other ("Trump" beside "Donald Trump") is a shared post
    # although its short form is a mention of the long name's node (``inpost``); its context is
    # not shared evidence, being one post's.
    shared_posts = len(a.posts & b.posts | b.beside.get(a.norm, frozenset()) | a.beside.get(b.norm, frozenset()))
    shared_ctx = len((a.context & b.context) - own)
    feats = (("shared_posts", float(shared_posts)), ("shared_context", float(shared_ctx)),
             ("alt_posts", float(alt_posts)))
    cos = cosine(a.vector, b.vector)
    # Only where both names have text vectors: a record written without them reads as it did.
    return feats if cos is None else feats + (("text_cosine", round(cos, 4)),)


def context_score(features: Tuple[Tuple[str, float], ...], params: Params = DEFAULT, kind: str = "") -> float:
    """Points of evidence that two names are one entity: shared posts (2 each, up to 2), shared
    context words (1 each, up to 5), alternate_names posts (3 each, up to 2), and ``text_points``
    when their posts' texts read alike (``text_cosine`` >= ``text_similar``) and the dependent's
    ``kind`` is not one of ``TEXT_BLIND_KINDS``."""
    f = dict(features)
    return 2 * min(f["shared_posts"], 2) + min(f["shared_context"], 5) + 3 * min(f["alt_posts"], 2) + text_score(
        features, params, kind)


def text_score(features: Tuple[Tuple[str, float], ...], params: Params = DEFAULT, kind: str = "") -> float:
    """The part of ``context_score`` that comes from the posts' text."""
    if kind not in TEXT_BLIND_KINDS and dict(features).get("text_cosine", -1.0) >= params.text_similar:
        return params.text_points
    return 0.0


def link_kind(d: Decision, nodes) -> str:
    """The kind of a dependent link's short side (``dependent_kind``), "" for a link without one;
    ``nodes``: key -> NameNode."""
    if not d.dependent:
        return ""
    return dependent_kind(nodes[d.dependent], d.rule, nodes[d.other])


def score_pair(a: NameNode, b: NameNode, alt_posts: int = 0, params: Params = DEFAULT) -> Optional[Decision]:
    """The link between two nodes, or None. Nodes of different types never link."""
    if a.type != b.type or a.key == b.key:
        return None
    if b.key < a.key:
        a, b = b, a
    rel = string_relation(a, b, params)
    feats = context_features(a, b, alt_posts)
    if rel is None:
        if alt_posts <= 0:
            return None
        return Decision(a.key, b.key, ALT_NAMES, float(alt_posts), alt_posts >= params.alt_alone, "", feats)
    rule, sim, dependent = rel
    feats = (("similarity", round(sim, 2)),) + feats
    if not dependent:
        return Decision(a.key, b.key, rule, round(sim / 100.0, 4), True, "", feats)
    if alt_posts >= params.alt_alone:
        # The evidence that links two unrelated names links a name and its short form too.
        return Decision(a.key, b.key, rule, context_score(feats, params), True, "", feats)
    short, long_ = (a, b) if dependent == a.key else (b, a)
    kind = dependent_kind(short, rule, long_)
    return Decision(a.key, b.key, rule, context_score(feats, params, kind), False, dependent, feats)
