"""Stage 2 in Beam: ``Decide`` turns the guide's scores into triples, asking the LLM about the
pairs the guide is unsure of.

    scores -> Gate --confident--------------------------------> decision
                  \\--uncertain--> BatchElements -> AskLlm ----> decision -> ToTriple (non-None only)

The LLM step is a DoFn over BatchElements rather than RunInference's RemoteModelHandler: that
handler retries and fails a whole batch, while here each request is retried by the openai
client on its own and a pair whose request still fails falls back to the guide's decision
(``guide-fallback``, with the fault in ``reason``) without touching the rest of the batch.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Optional, Sequence, Tuple

import apache_beam as beam

from mmkg.refiner.client import LlmOutcome, Refiner
from mmkg.refiner.gate import GUIDE, Decision, Gating, accept, guide_decision, should_ask, uncertainty
from mmkg.refiner.prompt import ImageDescriber, no_image_description
from mmkg.refiner.settings import LlmSettings
from mmkg.schemas.records import RelationScores, Triple
from mmkg.schemas.relations import NO_RELATION, implied_types
from mmkg.transforms import counters

_ASK = "ask"


def _count(name: str, n: int = 1) -> None:
    if n:
        counters.counter(name).inc(n)


def to_triple(scores: RelationScores, decision: Decision, llm_model: str = "") -> Optional[Triple]:
    """The triple of a final decision; None for the no-relation label. Entity types come from the
    mentions, or else from the types the relation implies."""
    if not decision.label or decision.label == NO_RELATION:
        return None
    implied = implied_types(decision.label) or (None, None)
    pair = scores.pair
    return Triple(
        head=pair.head.text,
        head_type=pair.head.type or implied[0],
        relation=decision.label,
        tail=pair.tail.text,
        tail_type=pair.tail.type or implied[1],
        confidence=float(decision.confidence),
        decided_by=decision.decided_by,
        post_id=pair.post_id,
        image_id=pair.image.image_id if pair.image else None,
        guide_version=scores.model_version,
        llm_model=llm_model if decision.decided_by != GUIDE else "",
        reason=decision.reason,
    )


def count_outcome(outcome: LlmOutcome) -> None:
    _count(counters.PAIRS_TO_LLM)
    _count(counters.LLM_CALLS, int(outcome.called))
    _count(counters.LLM_CACHE_HITS, int(outcome.cache_hit))
    if outcome.called:  # tokens spent by this run; cached answers cost none
        _count(counters.LLM_PROMPT_TOKENS, outcome.prompt_tokens)
        _count(counters.LLM_COMPLETION_TOKENS, outcome.completion_tokens)
    if outcome.fault:
        _count(f"{counters.LLM_FAULT}{outcome.fault}")


class _Gate(beam.DoFn):
    """Confident pairs are decided here; uncertain ones go to the ``ask`` output."""

    def __init__(self, gating: Optional[Gating], off_reason: str):
        self.gating = gating
        self.off_reason = off_reason

    def process(self, scores: RelationScores) -> Iterator:
        if self.gating is None:
            yield scores, guide_decision(scores, self.off_reason)
        elif should_ask(scores, self.gating):
            yield beam.pvalue.TaggedOutput(_ASK, scores)
        else:
            yield scores, guide_decision(scores, f"guide confident ({uncertainty(scores)})")


class _AskLlm(beam.DoFn):
    """A batch of uncertain pairs -> (scores, decision), requests in flight concurrently."""

    def __init__(self, settings: LlmSettings, gating: Gating, top_k: Optional[int], describe: ImageDescriber):
        self.settings = settings
        self.gating = gating
        self.top_k = top_k
        self.describe = describe
        self._refiner: Optional[Refiner] = None

    def setup(self) -> None:
        self._refiner = Refiner(self.settings, self.top_k, self.describe).open()

    def teardown(self) -> None:
        if self._refiner is not None:
            self._refiner.close()
            self._refiner = None

    def process(self, batch: Sequence[RelationScores]) -> Iterable[Tuple[RelationScores, Decision]]:
        outcomes = self._refiner.ask_many(batch)  # type: ignore[union-attr]
        for scores, outcome in zip(batch, outcomes):
            count_outcome(outcome)  # here, in the bundle's thread, so Beam attributes the counts
            yield scores, accept(scores, outcome.label, outcome.fault, outcome.detail, self.gating)


class _ToTriple(beam.DoFn):
    def __init__(self, llm_model: str):
        self.llm_model = llm_model

    def process(self, element: Tuple[RelationScores, Decision]) -> Iterator[Triple]:
        scores, decision = element
        _count(f"{counters.DECIDED_BY}{decision.decided_by}")
        triple = to_triple(scores, decision, self.llm_model)
        if triple is not None:
            _count(counters.TRIPLES)
            yield triple


class Decide(beam.PTransform):
    """PCollection[RelationScores] -> PCollection[Triple].

    ``llm`` None (``--llm none``, or a closed gate: see ``refiner.gate_store.plan_stage2``) keeps the
    guide's decisions, each with ``off_reason``. Otherwise ``llm`` must name a reachable endpoint
    (``refiner.local_server.serving`` fills it in for the embedded server) and ``gating`` says which
    pairs go to it.
    """

    def __init__(
        self,
        llm: Optional[LlmSettings],
        *,
        gating: Optional[Gating] = None,
        top_k: Optional[int] = None,
        batch_size: Optional[int] = None,
        describe: ImageDescriber = no_image_description,
        off_reason: str = "llm off",
    ):
        super().__init__()
        if llm is not None and (not llm.base_url or not llm.model):
            raise ValueError("Decide needs a resolved LLM endpoint; wrap the run in refiner.local_server.serving()")
        if llm is not None and gating is None:
            raise ValueError("Decide needs the gate for the LLM (refiner.gate_store.plan_stage2)")
        self.llm = llm
        self.gating = gating if llm is not None else None
        self.off_reason = off_reason
        self.top_k = top_k
        self.batch_size = batch_size or max(8, 4 * (llm.concurrency if llm else 1))
        self.describe = describe

    def expand(self, scores):
        gated = scores | "Gate" >> beam.ParDo(_Gate(self.gating, self.off_reason)).with_outputs(_ASK, main="decided")
        decided = [gated.decided]
        if self.gating is not None:
            asked = (
                gated[_ASK]
                | "BatchForLlm" >> beam.BatchElements(
                    min_batch_size=min(self.llm.concurrency, self.batch_size),
                    max_batch_size=self.batch_size,
                )
                | "AskLlm" >> beam.ParDo(_AskLlm(self.llm, self.gating, self.top_k, self.describe))
            )
            decided.append(asked)
        return (
            decided
            | "AllDecisions" >> beam.Flatten()
            | "ToTriple" >> beam.ParDo(_ToTriple((self.llm.model if self.llm else "") or ""))
        )
