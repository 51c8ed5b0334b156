"""TF-SAME padding of EfficientNet-Lite0 (what the weights were trained with) and class-stratified subsets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.data.subsets import stratified_subset
from engine.vision.efficientnet_lite import EfficientNetLite0, PaddedConv2d, same_padding
from engine.vision.train import epoch_order


@pytest.mark.parametrize("size", [96, 95, 28, 7])
def test_same_and_symmetric_padding_give_the_same_output_shape(size):
    x = torch.randn(1, 3, size, size)
    same, sym = EfficientNetLite0(padding="same").eval(), EfficientNetLite0(padding="symmetric").eval()
    with torch.no_grad():
        assert same.features(x).shape == sym.features(x).shape == (1, 1280, -(-size // 32), -(-size // 32))


def test_same_padding_numbers():
    assert same_padding(96, 3, 2) == (0, 1)  # even input, stride 2: the extra zero goes after
    assert same_padding(96, 5, 2) == (1, 2)
    assert same_padding(95, 3, 2) == (1, 1) and same_padding(95, 5, 2) == (2, 2)  # odd: symmetric
    assert same_padding(96, 5, 1) == (2, 2)


def _pair(kernel: int, stride: int) -> tuple[PaddedConv2d, PaddedConv2d]:
    torch.manual_seed(0)
    a = PaddedConv2d(2, 2, kernel, stride, padding="same")
    b = PaddedConv2d(2, 2, kernel, stride, padding="symmetric")
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("kernel", [3, 5])
def test_same_differs_from_symmetric_only_for_stride_2_on_even_inputs(kernel):
    x_even, x_odd = torch.randn(1, 2, 12, 12), torch.randn(1, 2, 13, 13)
    a, b = _pair(kernel, 2)
    assert not torch.allclose(a(x_even), b(x_even))
    assert torch.allclose(a(x_odd), b(x_odd))
    a1, b1 = _pair(kernel, 1)
    assert torch.allclose(a1(x_even), b1(x_even)) and torch.allclose(a1(x_odd), b1(x_odd))


def test_same_padding_on_even_input_is_symmetric_padding_shifted_by_one_pixel():
    """SAME (k=3, s=2, even) samples the pixels centred at 1, 3, 5 ...; symmetric ones at 0, 2, 4 ..."""
    a, _ = _pair(3, 2)
    x = torch.randn(1, 2, 12, 12)
    shifted = F.conv2d(F.pad(x, (1, 1, 1, 1))[..., 1:, 1:], a.weight, stride=2)  # drop the leading pad row/col
    assert torch.allclose(a(x), shifted[..., :6, :6], atol=1e-6)


def _labels(n_neg: int = 300, n_pos: int = 700) -> np.ndarray:
    y = np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]
    return np.random.default_rng(5).permutation(y)


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1, 0.25])
def test_stratified_subset_keeps_the_fraction_and_the_class_mix(fraction):
    y = _labels()
    idx = stratified_subset(y, seed=0, fraction=fraction)
    assert len(idx) == pytest.approx(fraction * len(y), abs=1)
    assert (y[idx] == 0).sum() == round(fraction * 300) and (y[idx] == 1).sum() == round(fraction * 700)
    assert np.all(np.diff(idx) > 0), "dataset order, no repeats"


def test_stratified_subset_is_fixed_by_the_seed_and_nested_across_fractions():
    y = _labels()
    a, b, c = (stratified_subset(y, seed=s, fraction=0.1) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    small, large = stratified_subset(y, 3, 0.05), stratified_subset(y, 3, 0.25)
    assert set(small) <= set(large)
    assert np.array_equal(stratified_subset(y, 0, 1.0), np.arange(len(y)))


def test_stratified_subset_keeps_both_classes_and_rejects_bad_fractions():
    y = _labels(5, 995)
    assert set(y[stratified_subset(y, 0, 0.01)]) == {0, 1}
    assert len(stratified_subset(y, 0, count=100)) == 100
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            stratified_subset(y, 0, bad)


def test_epoch_order_repeats_a_small_subset_up_to_the_epoch_size():
    g = torch.Generator().manual_seed(0)
    order = epoch_order(10, 25, g)
    assert len(order) == 25 and np.bincount(order.numpy(), minlength=10).min() >= 2
    assert torch.equal(torch.sort(epoch_order(10, 0, g)).values, torch.arange(10))
