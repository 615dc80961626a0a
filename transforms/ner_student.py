"""Entity detection with the project's NER student, through Beam's RunInference.

``NerStudentHandler`` loads the checkpoint once per worker process (RunInference's shared model
handle), receives posts in batches (BatchElements, up to the handler's max batch size), tags
them in length-sorted sub-batches on CUDA in half precision when there is a GPU, and returns each
post with its entities as character spans into the original text.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence

from apache_beam.ml.inference.base import ModelHandler

from mmkg.ner.mentions import mentions_from_spans
from mmkg.ner.settings import NerSettings
from mmkg.schemas.records import Post
from mmkg.transforms import counters


class _OnFirstBatch:
    """RunInference loads its model when a worker starts; the student is loaded on the first batch
    instead, so that a run whose posts all carry entities (MNRE, evaluation sets) never pays the
    seconds it takes."""

    def __init__(self, settings: NerSettings):
        self.settings = settings
        self._student = None

    def get(self):
        if self._student is None:
            # Imported here so that building the graph (and `mmkg query`) does not import torch.
            from mmkg.ner.tagger import NerStudent
            from mmkg.runtime.threads import threads_per_worker, use_threads

            s = self.settings
            # Process-wide and before the first forward pass, as for the guide: torch's default
            # (every core) in each worker oversubscribes a shared machine.
            use_threads(threads_per_worker(s.torch_threads, s.workers_per_machine))
            self._student = NerStudent(s.checkpoint, s.device, s.precision, s.batch_size, s.convention)
        return self._student


class NerStudentHandler(ModelHandler[Post, Post, Any]):
    def __init__(self, settings: NerSettings = NerSettings()):
        super().__init__(min_batch_size=1, max_batch_size=settings.batch_size)
        self.settings = settings

    def load_model(self) -> "_OnFirstBatch":
        return _OnFirstBatch(self.settings)

    def run_inference(self, batch: Sequence[Post], model, inference_args: Optional[Dict[str, Any]] = None) -> Iterable[Post]:
        s = self.settings
        tagged = model.get().detect([p.text for p in batch], s.recall_penalty)
        return [p.with_entities(mentions_from_spans(p.text, t.spans, t.candidates, s.mentions))
                for p, t in zip(batch, tagged)]

    def get_num_bytes(self, batch: Sequence[Post]) -> int:
        return sum(len(p.text.encode("utf-8")) for p in batch)

    def get_metrics_namespace(self) -> str:
        return counters.NAMESPACE
