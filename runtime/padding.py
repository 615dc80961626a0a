"""The sequence length attention computes over: the batch's own length rounded up to a multiple
of ``PAD_MULTIPLE`` (runtime/bert_native.py pads queries, keys and values, masked, to it).

Why: a post's entities and a pair's score should be a function of the post and the pair, not of
which other posts a runner happened to batch with it (RunInference sizes its batches by timing,
so that changes from run to run). In bf16 on a CPU (oneDNN's kernels; this project's default
where the CPU has native bf16) attention gave a sequence different outputs at different padded
lengths, so a pair's logits moved by up to 0.06 with its batch-mates, its confidence by up to
0.009, and two runs of one input on the 1,723 Twitter valid posts scored 163 of 1,370 triples
differently (one crossed the graph's cut). At lengths that are multiples of 16 or 32 (not 4 or 8)
the outputs were the same whatever the batch, and the same at 16 as at 32 (the 1,370 triples of
those posts, bit for bit); the linear layers were already indifferent to it. Measured on a CPU with
AVX512-BF16, not on one with AMX. Only attention is padded: padding every layer's input cost 10-14 %
of the guide's and the student's speed; 32 cost 7-11 % on MNRE's short sentences; 16 costs within
noise (guide +3 %, student -5 %, in-process on the evaluation set's pairs).

In fp32 (a CPU without native bf16) the number of *rows* mattered too: a pair's logits moved by up
to 6e-6 with its batch size, so two runs of one input stored confidences that differed in the 7th
digit and the graph changed on a rerun. Measured on an AVX2 CPU (2026-12-08, the guide on 64 MNRE
val pairs, 1 and 2 threads): batches of 4, 8, 12, 16, 24, 32, 40 and 64 rows gave every pair the
same logits, bit for bit; batches of 1, 2, 3, 5, 6, 7, 9 and 31 did not. So the guide pads its
batches to a multiple of ``ROW_MULTIPLE`` rows (repeating the last pair and dropping its scores):
at most 7 extra rows in the last sub-batch of a RunInference batch, about 2 % more rows on raw posts
(16 would be 6 %; docs/reliability.md has the timings). The multiple is this CPU's (AVX2);
``tests/test_batch_invariance.py`` asserts bit-exact scores, so a CPU that needs another fails
there. The NER student's emissions did not vary with the rows (same CPU), so it is not padded.
"""
from __future__ import annotations

PAD_MULTIPLE = 16
ROW_MULTIPLE = 8


def padded_length(length: int, multiple: int = PAD_MULTIPLE) -> int:
    """``length`` rounded up to a multiple of ``multiple`` (0 stays 0)."""
    return -(-length // multiple) * multiple


def padded_rows(rows: int, multiple: int = ROW_MULTIPLE) -> int:
    """How many rows a batch of ``rows`` is computed as (0 stays 0)."""
    return padded_length(rows, multiple)
