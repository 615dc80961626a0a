"""ScorePairs / GuideModelHandler on the real DirectRunner, in-process and with two worker
processes, with and without images, using the shipped default checkpoint."""
import math
import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from mmkg.models.checkpoint import DEFAULT_CHECKPOINT, read_config
from mmkg.models.data import read_mnre
from mmkg.schemas.records import ImageRef, RelationScores
from mmkg.schemas.relations import RELATIONS
from tests.beam_util import run_and_collect
from tests.conftest import mnre_path
from mmkg.schemas.settings import GuideSettings
from mmkg.transforms.guide import ScorePairs

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
