"""Tests of attention_course.plot, drawn headless (Agg)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from attention_course.plot import MASKED_COLOUR, attention_heads, attention_map, when_implemented


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_attention_map_puts_keys_on_x_queries_on_y_with_labels_and_a_colour_bar():
    """Does the heatmap label keys on x and queries on y, and come with a colour bar?"""
    weights = np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]])
    ax = attention_map(weights, query_labels=["q0", "q1"], key_labels=["the", "cat", "sat"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "cat", "sat"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["q0", "q1"]
    assert ax.get_xlabel() == "key" and ax.get_ylabel() == "query" and ax.get_title() == "t"
    assert len(ax.figure.axes) == 2  # the map and its colour bar
    assert ax.images[0].get_array().shape == (2, 3)


def test_masked_cells_are_drawn_in_their_own_colour():
    """Are exactly-zero cells masked out and painted in the 'masked' colour?"""
    ax = attention_map(np.array([[1.0, 0.0], [0.5, 0.5]]))
    image = ax.images[0]
    assert image.get_array().mask.tolist() == [[False, True], [False, False]]
    rgba = image.cmap.get_bad()
    assert np.allclose(rgba[:3], plt.matplotlib.colors.to_rgb(MASKED_COLOUR))


def test_attention_map_draws_into_a_given_axes_and_checks_labels():
    """Does it draw into `ax`, and reject label lists of the wrong length?"""
    fig, ax = plt.subplots()
    assert attention_map(np.eye(2), ax=ax) is ax
    with pytest.raises(ValueError, match="3 labels for 2 keys"):
        attention_map(np.eye(2), key_labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="attention_heads"):
        attention_map(np.ones((2, 2, 2)))


def test_attention_heads_draws_one_titled_panel_per_head_on_a_shared_scale():
    """Does it draw h panels titled 'head i', one colour bar, and one colour scale?"""
    weights = np.random.default_rng(0).random((5, 3, 4))
    fig = attention_heads(weights, query_labels=list("abc"), key_labels=list("wxyz"), ncols=2, title="T")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == [f"head {i}" for i in range(5)]
    assert len(fig.axes) == 6  # five panels and one colour bar
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    assert [t.get_text() for t in panels[0].get_xticklabels()] == list("wxyz")
    assert fig._suptitle.get_text() == "T"


def test_attention_heads_rejects_a_single_map():
    """Does a 2-D array raise a ValueError pointing at the expected shape?"""
    with pytest.raises(ValueError, match=r"\(h, n_q, n_k\)"):
        attention_heads(np.eye(3))


def _cell_texts(ax):
    """{(row, column): (text, colour)} of the values written in the cells of a heatmap."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): (t.get_text(), t.get_color())
            for t in ax.texts}


def test_every_map_shares_the_fixed_scale_0_to_1_unless_told_otherwise():
    """Are a faint and a sharp map drawn on the same 0-1 colour scale, and is vmax=None the data's max?"""
    faint = np.full((3, 3), 1 / 3)
    sharp = np.eye(3)
    for weights in (faint, sharp):
        ax = attention_map(weights)
        assert ax.images[0].get_clim() == (0.0, 1.0)
        colour_bar = ax.figure.axes[1]
        assert colour_bar.get_ylim() == pytest.approx((0.0, 1.0))
    assert attention_map(faint, vmax=None).images[0].get_clim() == pytest.approx((0.0, 1 / 3))
    assert attention_map(faint, vmin=0.2, vmax=0.5).images[0].get_clim() == pytest.approx((0.2, 0.5))


def test_a_small_map_is_annotated_with_its_weights_but_not_in_its_masked_cells():
    """Does a map of at most 10 x 10 show every visible weight to two decimals, masked cells blank?"""
    weights = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.125, 0.5, 0.375]])
    texts = _cell_texts(attention_map(weights))
    assert {cell: text for cell, (text, _) in texts.items()} == {
        (0, 0): "1.00", (1, 0): "0.25", (1, 1): "0.75", (2, 0): "0.12", (2, 1): "0.50", (2, 2): "0.38"}


def test_the_numbers_are_black_on_light_cells_and_white_on_dark_ones():
    """On viridis, is a weight near 1 (yellow) written in black and one near 0 (dark blue) in white?"""
    texts = _cell_texts(attention_map(np.array([[0.98, 0.02]])))
    assert texts[(0, 0)] == ("0.98", "black")
    assert texts[(0, 1)] == ("0.02", "white")


def test_large_maps_are_not_annotated_unless_asked_and_small_ones_can_opt_out():
    """Is an 11 x 11 map left without numbers by default, and does annotate override the default?"""
    large = np.full((11, 11), 1 / 11)
    assert len(attention_map(large).texts) == 0
    assert len(attention_map(large, annotate=True).texts) == 121
    assert len(attention_map(np.eye(2), annotate=False).texts) == 0


def test_attention_heads_share_one_given_scale_and_annotate_every_panel():
    """Do all panels use the given (or default 0-1) limits, and does each small panel carry its numbers?"""
    weights = np.stack([np.eye(2), np.full((2, 2), 0.5)])
    fig = attention_heads(weights)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.images[0].get_clim() for ax in panels] == [(0.0, 1.0), (0.0, 1.0)]
    assert [sorted(text for text, _ in _cell_texts(ax).values()) for ax in panels] == [
        ["1.00", "1.00"], ["0.50", "0.50", "0.50", "0.50"]]
    fig = attention_heads(weights, vmax=None, annotate=False)
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images} == {(0.0, 1.0)}
    assert all(len(ax.texts) == 0 for ax in fig.axes)
    fig = attention_heads(0.5 * weights, vmax=None)
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images} == {(0.0, 0.5)}


def test_when_implemented_turns_a_stub_into_one_line(capsys):
    """Does a NotImplementedError inside the block print a skip message instead of raising?"""
    with when_implemented("softmax"):
        raise NotImplementedError
    assert "implement `softmax`" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError), when_implemented("softmax"):
        raise ZeroDivisionError
