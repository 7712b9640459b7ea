"""Chapter 12, transfer: class subsets, discriminative rates, frozen and fine-tuned trunks."""

import pytest
import torch

import vgcourse
from vgcourse import transfer


def test_digit_classes_relabels_and_subsamples():
    x, y = transfer.digit_classes([7, 3], per_class=4, seed=1)
    assert x.shape == (8, 64) and sorted(y.tolist()) == [0] * 4 + [1] * 4
    full_x, full_y = vgcourse.data.digits()
    # every kept image is a 7 (label 0) or a 3 (label 1) of the training split
    for image, label in zip(x, y):
        match = (full_x == image).all(dim=1)
        assert int(full_y[match][0]) == [7, 3][int(label)]
    again = transfer.digit_classes([7, 3], per_class=4, seed=1)
    assert torch.equal(x, again[0])


def test_discriminative_rates_by_hand():
    model = vgcourse.mlp(3, 8, in_features=4, out_features=2)
    groups = transfer.discriminative_groups(model, lr=1.0, decay=2.0)
    # read-out 1, layer 3: 1/2, layer 2: 1/4, layer 1: 1/8
    assert [g["lr"] for g in groups] == [0.125, 0.25, 0.5, 1.0]
    assert groups[0]["params"][0] is model.hidden[0].linear.weight
    assert transfer.ULMFIT_DECAY == 2.6


def test_frozen_trunk_stays_and_fine_tuned_trunk_moves():
    pre = vgcourse.mlp(2, 8, in_features=64, out_features=3, seed=0)
    before = [p.detach().clone() for p in pre.parameters()]
    x, y = transfer.digit_classes([5, 6], per_class=3)
    frozen = transfer.reuse_trunk(pre, x, y, "frozen", classes=2, steps=3)
    tuned = transfer.reuse_trunk(pre, x, y, "fine-tune", classes=2, steps=3)
    assert all(torch.equal(p, q) for p, q in zip(pre.parameters(), before))  # untouched
    assert all(not p.requires_grad for p in frozen.hidden.parameters())
    assert torch.equal(frozen.hidden[0].linear.weight, before[0])
    assert not torch.equal(tuned.hidden[0].linear.weight, before[0])
    assert frozen.output.out_features == 2
    report = vgcourse.diagnose(frozen, x, y)
    assert [layer.name for layer in report.layers] == ["output"]


def test_scratch_redraws_the_trunk():
    pre = vgcourse.mlp(2, 8, in_features=64, out_features=3, seed=0)
    fresh = transfer.new_head(pre, 4, seed=5, fresh=True)
    kept = transfer.new_head(pre, 4, seed=5)
    assert torch.equal(kept.hidden[0].linear.weight, pre.hidden[0].linear.weight)
    assert not torch.equal(fresh.hidden[0].linear.weight, pre.hidden[0].linear.weight)
    assert fresh.output.out_features == kept.output.out_features == 4


@pytest.mark.parametrize(("call", "name"), [
    (lambda: transfer.digit_classes([1, 1]), "classes"),
    (lambda: transfer.digit_classes([10]), "classes"),
    (lambda: transfer.digit_classes([1], per_class=0), "per_class"),
    (lambda: transfer.discriminative_groups(vgcourse.mlp(2, 4), lr=0.0), "lr"),
    (lambda: transfer.reuse_trunk(vgcourse.mlp(2, 4, in_features=64), torch.zeros(2, 64),
                               torch.zeros(2, dtype=torch.long), "thaw", classes=2), "strategy"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
