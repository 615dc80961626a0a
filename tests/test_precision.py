"""--precision: parsed once into the guide's and the NER student's settings, and bf16 (what
``auto`` picks on CPUs with native bf16) decides like fp32 on real data, with the real models."""

import pytest
import torch
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli import evaluate
from mmkg.guide.scorer import Guide, predict_pairs
from mmkg.ner.data import read_conll
from mmkg.ner.tagger import NerStudent
from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.runtime.precision import cpu_has_native_bf16, resolve_precision
from mmkg.schemas.mnre_split import read_mnre
from tests.conftest import SHARED_DATA, mnre_path

GUIDE_SAMPLE = 512  # the first pairs of MNRE val
NER_SAMPLE = 300  # the first sentences of Twitter-2017 valid


def settings(*argv):
    return settings_from_options(PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions), {})


def test_one_flag_sets_both_models_precision():
    s = settings("--precision", "bf16")
    assert (s.guide.precision, s.ner.precision) == ("bf16", "bf16")
    s = settings()
    assert (s.guide.precision, s.ner.precision) == ("auto", "auto")
    with pytest.raises(SystemExit):
        settings("--precision", "int8")
    assert evaluate.parse_args(["--split", "x", "--precision", "fp32"]).precision == "fp32"


def test_auto_follows_the_hardware():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert resolve_precision("auto", torch.device("cuda")) == torch.float16
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        resolve_precision("fp16", cpu)


def test_the_guide_keeps_fp32_weights_on_cpu_and_bf16_decides_like_fp32():
    pairs = read_mnre(str(mnre_path("mnre_val.txt")), limit=GUIDE_SAMPLE)
    fp32 = Guide(device="cpu", precision="fp32")
    bf16 = Guide(device="cpu", precision="bf16")
    assert bf16.compute_dtype == torch.bfloat16
    # Autocast, not cast weights: softmax and layer norm stay in fp32.
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    a = [s.decision for s in predict_pairs(fp32, pairs)]
    b = [s.decision for s in predict_pairs(bf16, pairs)]
    same = sum(x == y for x, y in zip(a, b)) / len(a)
    assert len(a) == GUIDE_SAMPLE and same >= 0.99, f"bf16 kept {same:.2%} of fp32's decisions"
    # The two really computed differently (else the comparison above proves nothing).
    assert not torch.equal(fp32.logits(pairs[:8]), bf16.logits(pairs[:8]))


def test_the_ner_student_tags_alike_in_bf16_and_fp32():
    path = SHARED_DATA / "twitter2017" / "valid.txt"
    if not path.exists():
        pytest.skip(f"needs Twitter-2017 at {path} (../shared/data beside the checkout), absent here")
    words = [list(s.tokens) for s in read_conll(str(path))[:NER_SAMPLE]]
    fp32 = NerStudent(device="cpu", precision="fp32").tag(words)[0]
    bf16 = NerStudent(device="cpu", precision="bf16").tag(words)[0]
    tokens = sum(len(w) for w in words)
    same = sum(x == y for a, b in zip(fp32, bf16) for x, y in zip(a, b)) / tokens
    assert any(t != "O" for tags in fp32 for t in tags)  # the sample has entities to disagree on
    assert same >= 0.99, f"bf16 kept the tags of {same:.2%} of {tokens} tokens"
