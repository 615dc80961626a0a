"""Each MRDA kind keeps the label and leaves head/tail spans pointing at the right text."""
import random

import pytest

from mmkg.cli import train as train_cli
from mmkg.guide.training.mrda import Augmenter, MrdaConfig, build_inventory, image_transform, noise, substitute, swap
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import EntityMention, EntityPair
from tests.conftest import mnre_path


def _pair(text, head, tail, gold):
    hs, ts = text.index(head), text.index(tail)
    return EntityPair(post_id="p", text=text, head=EntityMention(head, hs, hs + len(head)),
                      tail=EntityMention(tail, ts, ts + len(tail)), gold=gold)


def _spans_ok(p):
    return p.text[p.head.start:p.head.end] == p.head.text and p.text[p.tail.start:p.tail.end] == p.tail.text


@pytest.fixture(scope="module")
def mnre_pairs():
    return read_mnre(str(mnre_path("mnre_train.txt")), limit=300)


def test_substitute_uses_same_type_and_keeps_spans():
    pair = _pair("Lionel Messi signs for Inter Miami today", "Lionel Messi", "Inter Miami", "/per/org/member_of")
    inventory = {"PER": ["Ann Lee", "Lionel Messi"], "ORG": ["Acme Corporation"]}
    seen = set()
    for seed in range(20):
        out = substitute(pair, inventory, random.Random(seed))
        assert out.gold == pair.gold and _spans_ok(out)
        changed = "head" if out.head.text != pair.head.text else "tail"
        assert {"head": "Ann Lee", "tail": "Acme Corporation"}[changed] == getattr(out, changed).text
        seen.add(changed)
    assert seen == {"head", "tail"}
    none_pair = _pair("Lionel Messi and Inter Miami", "Lionel Messi", "Inter Miami", "None")
    assert substitute(none_pair, inventory, random.Random(0)) is None


def test_inventory_types_come_from_labels(mnre_pairs):
    inventory = build_inventory(mnre_pairs)
    member = next(p for p in mnre_pairs if p.gold == "/per/org/member_of")
    assert member.head.text in inventory["PER"] and member.tail.text in inventory["ORG"]


def test_swap_only_for_symmetric_relations():
    peer = _pair("Kobe and Shaq won again", "Kobe", "Shaq", "/per/per/peer")
    out = swap(peer)
    assert out.gold == peer.gold and out.head == peer.tail and out.tail == peer.head and _spans_ok(out)
    assert swap(_pair("Kobe joined the Lakers", "Kobe", "Lakers", "/per/org/member_of")) is None


def test_noise_keeps_entities_intact(mnre_pairs):
    rng = random.Random(3)
    changed = 0
    for p in mnre_pairs[:100]:
        out = noise(p, rng)
        assert out.gold == p.gold and _spans_ok(out)
        assert (out.head.text, out.tail.text) == (p.head.text, p.tail.text)
        changed += out.text != p.text
        assert any(tok in out.text for tok in ("@", "#", "https://t.co/"))
    assert changed == 100


def test_image_transform_keeps_size():
    from PIL import Image

    image = Image.open(sorted(mnre_path("images").glob("*.jpg"))[0]).convert("RGB")
    out = image_transform(image, random.Random(0))
    assert out.size == image.size and out.mode == "RGB"
    assert out.tobytes() != image.tobytes()


def test_augmenter_all_kinds_on_real_lines_and_switches(mnre_pairs):
    augment = Augmenter(MrdaConfig(1.0, 1.0, 1.0, 1.0), build_inventory(mnre_pairs), seed=0)
    for p in mnre_pairs:
        out = augment(p)
        assert out.gold == p.gold and _spans_ok(out)
    off = Augmenter(MrdaConfig.off(), build_inventory(mnre_pairs), seed=0)
    assert all(off(p) == p for p in mnre_pairs[:50])
    assert off.image_transform() is None and augment.image_transform() is not None
    assert MrdaConfig.parse("swap,noise=0.2") == MrdaConfig(substitute=0.0, swap=0.5, noise=0.2, image=0.0)
    with pytest.raises(ValueError):
        MrdaConfig.parse("rotate")


def test_rare_limits_augmentation_to_the_long_tail(mnre_pairs):
    from collections import Counter

    counts = Counter(p.gold for p in mnre_pairs)
    config = MrdaConfig.parse("substitute=1.0,noise=1.0,rare=20")
    assert config.rare_below == 20 and config.describe() == "substitute=1.0,noise=1.0,rare=20"
    augment = Augmenter(config, build_inventory(mnre_pairs), seed=0, label_counts=counts)
    rare = [p for p in mnre_pairs if counts[p.gold] < 20]
    frequent = [p for p in mnre_pairs if counts[p.gold] >= 20]
    assert rare and frequent and counts["None"] >= 20
    assert all(augment(p) == p for p in frequent)  # None and the frequent labels stay as annotated
    changed = [augment(p) for p in rare]
    assert sum(q != p for p, q in zip(rare, changed)) == len(rare)  # noise=1.0 always inserts
    assert all(q.gold == p.gold and _spans_ok(q) for p, q in zip(rare, changed))
    with pytest.raises(ValueError, match="label counts"):
        Augmenter(config, build_inventory(mnre_pairs), seed=0)
    with pytest.raises(ValueError, match="positive count"):
        MrdaConfig.parse("substitute,rare=x")


def test_a_bad_mrda_spec_is_a_usage_error_of_mmkg_train(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_cli.parse_args(["--train", "t", "--val", "v", "--mrda", "substitute,rare=0"])
    assert exit_info.value.code == 2
    assert "--mrda: MRDA 'rare' takes a positive count" in capsys.readouterr().err
