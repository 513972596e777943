"""Tests of attention_ref.masks: causal_mask and padding_mask."""

from __future__ import annotations

import pytest

from attention_ref import causal_mask, padding_mask


@pytest.mark.parametrize(("n_q", "n_k"), [(4, None), (3, 5), (5, 2), (1, 1)])
def test_causal_mask_lets_query_i_see_keys_up_to_i(n_q, n_k):
    """Is mask[i, j] True exactly when j <= i, also when n_k != n_q?"""
    mask = causal_mask(n_q, n_k)
    n_k = n_q if n_k is None else n_k
    assert mask.shape == (n_q, n_k) and mask.dtype == bool
    for i in range(n_q):
        for j in range(n_k):
            assert mask[i, j] == (j <= i)


def test_padding_mask_hides_positions_at_or_past_each_length():
    """Is mask[b, 0, j] True exactly when j < lengths[b], for lengths 0 and full too?"""
    lengths = [0, 2, 5]
    mask = padding_mask(lengths, 5)
    assert mask.shape == (3, 1, 5) and mask.dtype == bool
    for b, length in enumerate(lengths):
        assert mask[b, 0].tolist() == [j < length for j in range(5)]


@pytest.mark.parametrize(
    "call",
    [lambda: causal_mask(-1), lambda: causal_mask(2.5), lambda: padding_mask([1, 6], 5),
     lambda: padding_mask([[1]], 5), lambda: padding_mask([1.5], 5)],
    ids=["negative", "float", "too-long", "2-d", "float-lengths"],
)
def test_bad_sizes_raise_a_value_error(call):
    """Do negative or fractional sizes and out-of-range lengths raise ValueError?"""
    with pytest.raises(ValueError):
        call()
