"""ScorePairs / GuideModelHandler on the real DirectRunner, in-process and with two worker
processes, with and without images, using the shipped default checkpoint."""
import math
import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from mmkg.guide.checkpoint import read_config
from mmkg.guide.scorer import Guide
from mmkg.guide.settings import DEFAULT_CHECKPOINT, GuideSettings
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import ImageRef, RelationScores
from mmkg.schemas.relations import RELATIONS
from mmkg.transforms.guide import ScorePairs
from tests.beam_util import run_and_collect
from tests.conftest import mnre_path

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(DEFAULT_CHECKPOINT, "config.json")), reason="no shipped guide checkpoint"
)


@pytest.fixture(scope="module")
def pairs():
    """Ten val pairs; the first four get real MNRE images, the rest stay text-only."""
    base = read_mnre(str(mnre_path("mnre_val.txt")), limit=10)
    images = sorted((mnre_path("images")).glob("*.jpg"))[:4]
    out = []
    for n, p in enumerate(base):
        image = ImageRef(image_id=images[n].name, path=str(images[n])) if n < len(images) else None
        out.append(p.__class__(**{**p.__dict__, "image": image}))
    return out


def _check(scores, pairs, top_k):
    assert sorted(s.pair.pair_id for s in scores) == sorted(p.pair_id for p in pairs)
    version = read_config()["version"]
    for s in scores:
        assert isinstance(s, RelationScores) and s.labels == RELATIONS and s.model_version == version
        assert math.isclose(sum(s.probs), 1.0, abs_tol=1e-4)
        assert len(s.candidates) == top_k
        assert [p for _, p in s.candidates] == sorted((p for _, p in s.candidates), reverse=True)
        assert s.candidates[0][1] == pytest.approx(max(s.probs))
        assert s.decision in RELATIONS and s.confidence == pytest.approx(s.probs[RELATIONS.index(s.decision)])
    assert any(s.pair.image is not None for s in scores) and any(s.pair.image is None for s in scores)


def test_score_pairs_in_process_counts_and_batches(pairs):
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
        scores = p | beam.Create(pairs) | ScorePairs(GuideSettings(device="cpu", batch_size=4, top_k=3), min_batch_size=2)
        assert_that(scores, lambda got: _check(got, pairs, 3))
    counters = p.result.metrics().query(beam.metrics.MetricsFilter().with_name("pairs_scored"))["counters"]
    assert sum(c.committed for c in counters) == len(pairs)


def test_score_pairs_multi_process_direct_runner(pairs):
    argv = ["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    out = run_and_collect(lambda p: {"scores": p | beam.Create(pairs) | ScorePairs(GuideSettings(device="cpu", batch_size=8, top_k=5))}, argv)
    _check(out["scores"], pairs, 5)


class _Recording(Guide):
    """The real guide, noting the pairs and padded width of each forward pass."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passes = []

    def logits(self, pairs, encoded=None):
        self.passes.append((len(pairs), max(len(ids) for ids, _, _ in encoded)))
        return super().logits(pairs, encoded)


def test_a_batch_is_scored_in_length_sorted_sub_batches_and_returned_in_input_order():
    pairs = read_mnre(str(mnre_path("mnre_val.txt")), limit=40)
    pairs = pairs[::2] + pairs[1::2]  # not in any length order
    guide = _Recording(device="cpu", precision="fp32", sub_batch_size=8)
    scores = guide.score(pairs)
    assert [s.pair.pair_id for s in scores] == [p.pair_id for p in pairs]
    assert [n for n, _ in guide.passes] == [8] * 5
    widths = [w for _, w in guide.passes]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    # Each pair alone (no padding from other pairs) gets the same answer.
    alone = [guide.score([p])[0] for p in pairs]
    assert [s.decision for s in scores] == [s.decision for s in alone]
    for a, b in zip(scores, alone):
        assert a.probs == pytest.approx(b.probs, abs=1e-4)
