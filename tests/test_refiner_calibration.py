"""Calibration's search over gates and policies, on hand-built guide scores and LLM outcomes."""
from mmkg.refiner.calibration import choose, pairs_to_ask, search, two_fold
from mmkg.refiner.client import LlmOutcome
from mmkg.refiner.evaluation import report_for
from tests.fixtures_llm import make_scores

REL, OTHER = "/per/org/member_of", "/per/per/peer"


def split(n_sure=14, n_unsure=6, unsure_gold=REL):
    """Sure pairs the guide gets right; unsure ones (top-1 0.4) where it says OTHER."""
    scores = []
    for i in range(n_sure):
        scores.append(make_scores("Ann works at Acme", "Ann", "Acme", [(REL, 0.9), ("None", 0.05)],
                                  post_id=f"s{i}", gold=REL))
    for i in range(n_unsure):
        scores.append(make_scores(f"Ann met Bob in room {i}", "Ann", "Bob", [(OTHER, 0.4), (REL, 0.35), ("None", 0.2)],
                                  post_id=f"u{i}", gold=unsure_gold))
    return scores


def test_a_helpful_llm_opens_the_gate_within_the_share():
    scores = split()
    todo = pairs_to_ask(scores, max_share=0.3)
    assert set(todo) == set(range(14, 20))  # only the unsure pairs are ever admissible
    outcomes = {i: LlmOutcome(REL, called=True) for i in todo}
    gating, best = search(scores, outcomes, max_share=0.3)
    assert not gating.never and best["f1"] == 1.0 and best["guide_f1"] < 1.0
    report = report_for(scores, gating, outcomes)
    assert report["share_sent"] <= 0.3 and report["guide_llm"]["f1"] == 1.0
    assert report["decided_by"]["llm"] == 6
    assert two_fold(scores, outcomes, 0.3)["mean_heldout_gain"] > 0


def test_an_llm_that_only_says_none_helps_where_the_guide_is_wrong():
    scores = split()  # the guide's OTHER is wrong there: dropping it raises precision
    outcomes = {i: LlmOutcome("None", called=True) for i in pairs_to_ask(scores, 0.3)}
    gating, best = search(scores, outcomes, max_share=0.3)
    assert gating.accept_none and best["f1"] > best["guide_f1"]


def test_an_unhelpful_llm_keeps_the_gate_closed():
    scores = split(unsure_gold=OTHER)  # the guide is right everywhere
    for answer in (REL, "None"):
        outcomes = {i: LlmOutcome(answer, called=True) for i in pairs_to_ask(scores, 0.3)}
        gating, best = search(scores, outcomes, max_share=0.3)
        assert gating.never and best["f1"] == best["guide_f1"] == 1.0
    outcomes = {i: LlmOutcome(None, "timeout", called=True) for i in outcomes}
    assert search(scores, outcomes, max_share=0.3)[0].never


def test_gates_over_the_share_are_not_admissible():
    scores = split(n_sure=4, n_unsure=6)  # the unsure pairs are 60%
    assert pairs_to_ask(scores, max_share=0.3) == []
    gating, _ = search(scores, {}, max_share=0.3)
    assert gating.never


def test_choose_keeps_the_gate_closed_when_the_gain_does_not_hold_out():
    scores = split()
    helpful = {i: LlmOutcome(REL, called=True) for i in pairs_to_ask(scores, 0.3)}
    assert not choose(scores, helpful, 0.3)[0].never
    # The LLM fixes the two unsure pairs at even positions and breaks the one at an odd position:
    # a net gain on the whole split, but choosing on one half never confirms on the other.
    a = split(n_sure=0, n_unsure=1)[0]
    b = split(n_sure=0, n_unsure=1, unsure_gold=OTHER)[0]
    scores = split(n_sure=16, n_unsure=0) + [a, b, a]
    outcomes = {i: LlmOutcome(REL, called=True) for i in (16, 17, 18)}
    gating, info = choose(scores, outcomes, 0.3)
    assert info["search"]["f1"] > info["search"]["guide_f1"]
    assert gating.never and "rejected" in info and info["two_fold"]["mean_heldout_gain"] < 0


def test_evaluate_with_llm_reports_both_scores_and_costs(fault_server, tmp_path):
    from mmkg.refiner.evaluation import evaluate_with_llm, format_llm_report
    from mmkg.refiner.gate import Gating
    from mmkg.refiner.settings import LlmSettings

    scores = split()  # the LLM server replies None: drops the guide's 6 wrong OTHER predictions
    opts = LlmSettings(base_url=fault_server.base_url, model="m", api_key_env="NO_SUCH_VAR", concurrency=2,
                       timeout_s=5.0, max_retries=0, budget=100, cache_path=str(tmp_path / "c.sqlite3"), run_id="r")
    gate = Gating(0.5, 0.0, 0.0, True, llm_model="m")
    report = evaluate_with_llm(scores, opts, top_k=3, gating=gate, progress=False)
    assert report["sent_to_llm"] == 6 and report["calls"] == 6 and abs(report["share_sent"] - 0.3) < 1e-9
    assert report["guide_llm"]["precision"] == 1.0 > report["guide"]["precision"]
    assert report["decided_by"] == {"guide": 14, "llm": 6} and report["prompt_tokens_spent"] == 6
    assert "guide+LLM" in format_llm_report(report)
    again = evaluate_with_llm(scores, opts, top_k=3, gating=gate, progress=False)  # from the cache
    assert again["calls"] == 0 and again["cache_hits"] == 6 and len(fault_server.requests) == 6
