"""FTL and the thresholded decision against values computed by hand."""
import math

import torch

from mmkg.guide.ftl import FlexibleThresholdLoss, class_priors, decide, offsets_vector


def _log1pexp(x):
    return math.log(1.0 + math.exp(x))


def test_ftl_equals_adaptive_threshold_loss_without_margins():
    logits = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    labels = torch.tensor([1, 0])
    # y=1: -log(e^1/(e^1+e^0)) - log(e^0/(e^0+e^2));  y=0: -log(e^0/(e^0+e^1+e^2))
    positive = _log1pexp(-1.0) + _log1pexp(2.0)
    negative = math.log(1 + math.e + math.e**2)
    expected = (positive + negative) / 2
    loss = FlexibleThresholdLoss(torch.ones(3), tau=0.0, num_classes=3)(logits, labels)
    assert abs(loss.item() - expected) < 1e-5
    assert abs(expected - 2.42389) < 1e-4


def test_ftl_frequency_margins_by_hand():
    # Labels 1,1,2 -> add-one counts 3 and 2 -> priors 0.6, 0.4; margins +-0.5*ln(1.5) at tau=1.
    priors = class_priors([1, 1, 2, 0, 0], 3)
    assert torch.allclose(priors[1:], torch.tensor([0.6, 0.4]))
    m = 0.5 * math.log(1.5)
    loss = FlexibleThresholdLoss(priors, tau=1.0, num_classes=3)(torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([2]))
    z1, z2 = 1.0 + m, 2.0 - m
    expected = _log1pexp(-(z2 - 0.0)) + _log1pexp(z1 - 0.0)  # positive above TH; TH above class 1
    assert abs(loss.item() - expected) < 1e-5


def test_ftl_gradient_pushes_threshold_correctly():
    logits = torch.zeros((1, 4), requires_grad=True)
    FlexibleThresholdLoss(torch.ones(4), tau=0.0, num_classes=4)(logits, torch.tensor([0])).backward()
    assert logits.grad[0, 0] < 0 and (logits.grad[0, 1:] > 0).all()


def test_decide_uses_threshold_class_and_offsets():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 1.0, 2.0], [0.0, 0.4, 0.1]])
    assert decide(logits).tolist() == [2, 0, 1]
    assert decide(logits, offsets_vector({"global_offset": 1.5}, 3)).tolist() == [2, 0, 0]
    assert decide(logits, offsets_vector({"global_offset": -1.5}, 3)).tolist() == [2, 2, 1]
    per_class = offsets_vector({"global_offset": 0.0, "per_class": {"2": 2.5}}, 3)
    assert decide(logits, per_class).tolist() == [1, 0, 1]


def test_decide_seeks_the_best_relation_among_the_allowed_ones():
    logits = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    allowed = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])
    assert decide(logits, None, allowed).tolist() == [2, 1, 0]
