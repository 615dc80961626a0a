"""Stage 1 in the pipeline: score entity pairs with the guide through Beam's RunInference.

``GuideModelHandler`` loads the checkpoint once per worker process (RunInference's shared model
handle), lets RunInference batch the pairs (BatchElements, sized by the handler's min/max batch
size), tokenises a batch, sorts it by token length and cuts it into sub-batches (so that short
pairs are not padded to the batch's longest), runs them in the settings' precision (by default
fp16 on CUDA, bf16 on CPUs with native bf16, see runtime.precision), and returns one
``RelationScores`` per pair, in the batch's order: the full distribution, the top-k candidates
and the threshold decision.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference

from mmkg.guide.settings import GuideSettings
from mmkg.schemas.records import EntityPair, RelationScores
from mmkg.transforms import counters


class GuideModelHandler(ModelHandler[EntityPair, RelationScores, Any]):
    def __init__(self, settings: GuideSettings = GuideSettings(), min_batch_size: int = 1):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=settings.batch_size)
        self.checkpoint = settings.checkpoint
        self.device = settings.device
        self.precision = settings.precision
        self.sub_batch_size = settings.sub_batch_size
        self.torch_threads = settings.torch_threads
        self.workers_per_machine = settings.workers_per_machine
        self.top_k = settings.top_k

    def load_model(self):
        # Deferred to the worker: the guide's modules import transformers and peft, seconds that
        # building the job graph does not need.
        from mmkg.guide.scorer import Guide
        from mmkg.runtime.threads import threads_per_worker, use_threads

        # Before the first forward pass of this worker: the setting is process-wide, and a
        # worker that kept torch's default (every core) oversubscribes a shared machine.
        use_threads(threads_per_worker(self.torch_threads, self.workers_per_machine))
        return Guide(self.checkpoint, self.device, self.precision, self.sub_batch_size)

    def run_inference(
        self, batch: Sequence[EntityPair], model, inference_args: Optional[Dict[str, Any]] = None
    ) -> Iterable[RelationScores]:
        return model.score(list(batch), self.top_k)

    def get_num_bytes(self, batch: Sequence[EntityPair]) -> int:
        return sum(len(p.text.encode("utf-8")) for p in batch)

    def get_metrics_namespace(self) -> str:
        return counters.NAMESPACE


class _CountScored(beam.DoFn):
    def __init__(self):
        self._scored = counters.counter(counters.PAIRS_SCORED)

    def process(self, scores: RelationScores):
        self._scored.inc()
        yield scores


class ScorePairs(beam.PTransform):
    """PCollection[EntityPair] -> PCollection[RelationScores]."""

    def __init__(self, settings: GuideSettings = GuideSettings(), min_batch_size: int = 1):
        super().__init__()
        self.handler = GuideModelHandler(settings, min_batch_size)

    @classmethod
    def with_handler(cls, handler: GuideModelHandler) -> "ScorePairs":
        """ScorePairs around a given handler (e.g. one that adds instrumentation)."""
        out = cls()
        out.handler = handler
        return out

    def expand(self, pairs):
        return (
            pairs
            | "RunInference" >> RunInference(self.handler)
            | "CountScored" >> beam.ParDo(_CountScored())
        )
