"""Tests of attention_course.explorer, headless (Agg, no widget front end)."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from attention_course import explorer as ex
from attention_ref.dot_product import dot_product_attention, scaled_dot_product_attention
from attention_ref.multi_head import multi_head_attention

TOKENS = 6  # six random tokens, labelled t0 … t5
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Spy:
    """A learner's function that records how the explorer calls it."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []
        self.__name__ = fn.__name__

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.fn(*args, **kwargs)


def _not_implemented(Q, K, V, mask=None):
    raise NotImplementedError()


# ---- inputs and masks ----------------------------------------------------------------------------

def test_explorer_inputs_are_unit_variance_with_zero_padding_rows():
    """Do the real tokens get N(0, 1) entries and the padding tokens zero vectors, in every role?"""
    Q, K, V = ex.explorer_inputs(6, 512, n_pad=2, seed=3)
    for M in (Q, K, V):
        assert M.shape == (8, 512)
        assert np.all(M[6:] == 0)
        assert 0.9 < M[:6].var() < 1.1 and abs(M[:6].mean()) < 0.1
    assert not np.allclose(Q[:6], K[:6])


def test_a_larger_d_k_keeps_the_vectors_and_adds_dimensions():
    """Does moving the d_k slider extend the same random vectors rather than draw new ones?"""
    small = ex.explorer_inputs(5, 8, seed=1)
    large = ex.explorer_inputs(5, 64, seed=1)
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(b[:, :8], a)
    assert not np.allclose(ex.explorer_inputs(5, 8, seed=2)[0], small[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"n_tokens": 0, "d_k": 4}, "n_tokens"),
    ({"n_tokens": 3, "d_k": 2.5}, "d_k"),
    ({"n_tokens": 3, "d_k": 4, "n_pad": -1}, "n_pad"),
])
def test_explorer_inputs_name_a_bad_argument(kwargs, message):
    """Does a bad size raise a ValueError that names the argument?"""
    with pytest.raises(ValueError, match=message):
        ex.explorer_inputs(**kwargs)


def test_the_masks_are_none_causal_padding_or_both():
    """Is the mask None without check boxes, the lower triangle, the hidden pad keys, or both at once?"""
    assert ex.explorer_mask(3, 2, causal=False, padding=False) is None
    causal = ex.explorer_mask(3, 2, causal=True, padding=False)
    np.testing.assert_array_equal(causal, np.tril(np.ones((5, 5), dtype=bool)))
    padding = ex.explorer_mask(3, 2, causal=False, padding=True)
    assert padding.shape == (5, 5) and padding.dtype == bool
    assert padding[:, :3].all() and not padding[:, 3:].any()
    np.testing.assert_array_equal(ex.explorer_mask(3, 2, causal=True, padding=True), causal & padding)


# ---- running the learner's function ---------------------------------------------------------------

@pytest.mark.parametrize("temperature", [0.1, 1.0, 4.0])
def test_the_temperature_divides_every_score(temperature):
    """Are the weights softmax(QKᵀ / (T √d_k)) when the learner's function is right?"""
    Q, K, V = ex.explorer_inputs(5, 16, seed=0)
    weights = ex.self_attention_weights(scaled_dot_product_attention, Q, K, V, temperature=temperature)
    np.testing.assert_allclose(weights, _softmax(Q @ K.T / (temperature * 4.0)), rtol=1e-10)


def test_the_mask_reaches_the_learner_function_and_the_inputs_stay_untouched():
    """Is the explorer's mask passed on, and are Q, K, V left as they were?"""
    Q, K, V = ex.explorer_inputs(4, 8, n_pad=1, seed=0)
    copies = [M.copy() for M in (Q, K, V)]
    spy = Spy(scaled_dot_product_attention)
    mask = ex.explorer_mask(4, 1, causal=True, padding=True)
    weights = ex.self_attention_weights(spy, Q, K, V, mask, temperature=2.0)
    assert spy.calls[-1][1]["mask"] is mask
    assert np.all(weights[~mask] == 0)
    for M, copy in zip((Q, K, V), copies, strict=True):
        np.testing.assert_array_equal(M, copy)


def test_a_function_that_returns_the_wrong_thing_is_named_in_the_error():
    """Does a function returning no (out, weights) pair, or weights of a wrong shape, get a clear error?"""
    Q, K, V = ex.explorer_inputs(4, 8)

    def only_output(Q, K, V, mask=None):
        return Q

    def wrong_shape(Q, K, V, mask=None):
        return Q, Q

    with pytest.raises(ValueError, match=r"`only_output` must return \(out, weights\)"):
        ex.self_attention_weights(only_output, Q, K, V)
    with pytest.raises(ValueError, match=r"`wrong_shape` returned weights of shape \(4, 8\), expected"):
        ex.self_attention_weights(wrong_shape, Q, K, V)
    with pytest.raises(ValueError, match="temperature"):
        ex.self_attention_weights(scaled_dot_product_attention, Q, K, V, temperature=0.0)


def test_multi_head_inputs_project_to_unit_variance_with_zero_biases():
    """Are W ~ N(0, 1/d_model) and the biases zero, so that projected entries have unit variance?"""
    X, params = ex.multi_head_inputs(6, 64, 4, n_pad=2, seed=0)
    assert X.shape == (8, 256) and np.all(X[6:] == 0)
    for name in ("W_q", "W_k", "W_v", "W_o"):
        assert params[name].shape == (256, 256)
        assert 0.9 < params[name].var() * 256 < 1.1
    for name in ("b_q", "b_k", "b_v", "b_o"):
        np.testing.assert_array_equal(params[name], np.zeros(256))
    assert 0.9 < (X[:6] @ params["W_q"]).var() < 1.1


def test_the_multi_head_temperature_divides_every_head_score_and_leaves_params_alone():
    """Are the weights those of W_q / T, every head included, with the caller's params unchanged?"""
    X, params = ex.multi_head_inputs(5, 4, 2, seed=1)
    W_q = params["W_q"].copy()
    weights = ex.multi_head_weights(multi_head_attention, X, params, 2, temperature=3.0)
    _, expected = multi_head_attention(X, X, dict(params, W_q=W_q / 3.0), 2)
    assert weights.shape == (2, 5, 5)
    np.testing.assert_allclose(weights, expected, rtol=1e-10)
    np.testing.assert_array_equal(params["W_q"], W_q)


# ---- summaries and drawings -----------------------------------------------------------------------

def test_the_summary_reads_uniform_one_hot_and_skips_fully_masked_rows():
    """Does the summary give 1/n and log n when uniform, 1 and 0 when one-hot, ignoring empty rows?"""
    assert ex.weights_summary(np.full((3, 4), 0.25)) == (
        f"median over queries: largest weight 0.25, entropy {np.log(4):.2f} nats")
    one_hot = np.vstack([np.eye(4)[:3], np.zeros(4)])  # the last query is fully masked
    assert ex.weights_summary(one_hot) == "median over queries: largest weight 1.00, entropy 0.00 nats"
    assert ex.weights_summary(np.zeros((2, 3))) == "every query is fully masked"


def test_a_drawn_map_is_a_labelled_figure_that_pyplot_does_not_show():
    """Is the map a Figure with the tokens on both axes, kept out of pyplot (so not shown twice)?"""
    before = plt.get_fignums()
    fig = ex.draw_self_attention(np.full((3, 3), 1 / 3), ["a", "b", "c"], title="t")
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert fig._suptitle.get_text() == "t"


def test_heads_are_drawn_all_together_or_one_at_a_time():
    """Does head='all' give one panel per head, an index one head's map, and a bad index an error?"""
    weights = np.stack([np.eye(3), np.full((3, 3), 1 / 3)])
    before = plt.get_fignums()
    every = ex.draw_heads(weights, ["a", "b", "c"], "all", title="t")
    assert [ax.get_title() for ax in every.axes if ax.get_title()] == ["head 0", "head 1"]
    assert plt.get_fignums() == before
    one = ex.draw_heads(weights, ["a", "b", "c"], 1, title="t")
    assert one._suptitle.get_text() == "head 1: t"
    np.testing.assert_allclose(one.axes[0].images[0].get_array(), weights[1])
    with pytest.raises(ValueError, match="head must be 'all' or below 2"):
        ex.draw_heads(weights, ["a", "b", "c"], 2)


def test_a_figure_becomes_a_png_of_its_size():
    """Is the PNG a real PNG whose width is the figure's width times the dpi?"""
    png = ex.figure_png(Figure(figsize=(3, 2)), dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and ex.png_width(png) == 150
    with pytest.raises(ValueError, match="not a PNG"):
        ex.png_width(b"GIF89a" + bytes(30))


# ---- the explorer ---------------------------------------------------------------------------------

def test_the_random_tokens_get_neutral_labels_unless_the_caller_names_them():
    """Are n tokens labelled t0 … t(n-1), and does a sequence of labels stay as given?"""
    assert ex.token_labels(3) == ["t0", "t1", "t2"]
    assert ex.token_labels(np.int64(2)) == ["t0", "t1"]
    assert ex.token_labels(["x", 7]) == ["x", "7"]
    for bad in (0, True, "the cat", [], 2.0):
        with pytest.raises(ValueError, match="tokens"):
            ex.token_labels(bad)


@pytest.mark.parametrize("make, labels", [
    (lambda: ex.attention_explorer(scaled_dot_product_attention, n_pad=2),
     [f"t{i}" for i in range(8)] + ["<pad>"] * 2),
    (lambda: ex.multi_head_explorer(multi_head_attention, num_heads=2, n_pad=1),
     [f"t{i}" for i in range(6)] + ["<pad>"]),
])
def test_the_explorers_label_their_maps_t0_t1_and_pad(make, labels, monkeypatch):
    """By default, are the maps' tokens labelled t0, t1, … followed by the <pad> tokens?"""
    drawn = []

    def spy(weights, labels, *args, **kwargs):
        drawn.append(list(labels))
        return Figure()

    monkeypatch.setattr(ex, "draw_self_attention", spy)
    monkeypatch.setattr(ex, "draw_heads", spy)
    make()
    assert drawn == [labels]


def test_each_control_runs_the_learner_function_again_with_its_setting():
    """Do d_k, the temperature and both masks each rerun the learner's function with what they say?"""
    spy = Spy(scaled_dot_product_attention)
    explorer = ex.attention_explorer(spy, TOKENS, n_pad=2)
    assert len(spy.calls) == 1
    (Q, K, V), kwargs = spy.calls[-1]
    assert Q.shape == K.shape == V.shape == (8, 16) and kwargs["mask"] is None
    first = explorer.png

    explorer.controls["d_k"].value = 64
    assert spy.calls[-1][0][0].shape == (8, 64) and explorer.png != first
    assert explorer.image.value == explorer.png and explorer.image.width == str(ex.png_width(explorer.png))

    Q64 = spy.calls[-1][0][0]
    explorer.controls["temperature"].value = 2.0
    np.testing.assert_allclose(spy.calls[-1][0][0], Q64 / 2.0)

    explorer.controls["causal"].value = True
    np.testing.assert_array_equal(spy.calls[-1][1]["mask"], np.tril(np.ones((8, 8), dtype=bool)))
    explorer.controls["padding"].value = True
    assert not spy.calls[-1][1]["mask"][:, 6:].any()
    assert explorer.status.value == ""


def test_an_unimplemented_function_gives_one_line_and_no_explorer(capsys):
    """While the learner's function is a stub, is there one 'Plot skipped' line and no widget?"""
    assert ex.attention_explorer(_not_implemented, TOKENS) is None
    assert capsys.readouterr().out == (
        "Plot skipped: implement `_not_implemented` first, then run this cell again.\n")

    def multi_head_attention(X_q, X_kv, params, num_heads, mask=None):
        raise NotImplementedError()

    assert ex.multi_head_explorer(multi_head_attention, TOKENS) is None
    assert capsys.readouterr().out == (
        "Plot skipped: implement `multi_head_attention` first, then run this cell again.\n")


def test_a_failing_redraw_keeps_the_map_and_says_why_in_one_line():
    """When a slider move makes the function fail, does the status say why and the last map stay?"""
    def fragile(Q, K, V, mask=None):
        if Q.shape[-1] == 32:
            raise ValueError("d_k = 32 is not supported")
        if mask is not None:
            raise NotImplementedError()
        return scaled_dot_product_attention(Q, K, V, mask)

    explorer = ex.attention_explorer(fragile, TOKENS)
    shown = explorer.png
    explorer.controls["d_k"].value = 32
    assert explorer.png == shown and explorer.image.value == shown
    assert explorer.status.value == "<code>`fragile` raised ValueError: d_k = 32 is not supported</code>"
    explorer.controls["d_k"].value = 64
    assert explorer.png != shown and explorer.status.value == ""
    explorer.controls["causal"].value = True
    assert "Plot skipped: implement `fragile` first" in explorer.status.value


def test_without_a_widget_front_end_the_output_still_holds_the_current_map():
    """Does the display bundle carry the widget view and, for static viewers, the map as a PNG?"""
    explorer = ex.attention_explorer(dot_product_attention, TOKENS)
    bundle = explorer._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == explorer.png
    assert "dot_product_attention" in bundle["text/plain"]
    explorer.controls["d_k"].value = 128
    assert base64.b64decode(explorer._repr_mimebundle_()["image/png"]) == explorer.png


def test_the_multi_head_explorer_offers_every_head_and_draws_the_one_chosen():
    """Does the head selector list 'all' and each head, and choosing one redraw a single map?"""
    spy = Spy(multi_head_attention)
    explorer = ex.multi_head_explorer(spy, TOKENS, num_heads=3, d_head=4, n_pad=1)
    assert [value for _, value in explorer.controls["head"].options] == ["all", 0, 1, 2]
    X, _, params, h = spy.calls[-1][0]
    assert X.shape == (7, 12) and params["W_q"].shape == (12, 12) and h == 3
    every = explorer.png
    explorer.controls["head"].value = 1
    assert explorer.png != every and len(spy.calls) == 2
    explorer.controls["d_head"].value = 16
    assert spy.calls[-1][0][0].shape == (7, 48)


@pytest.mark.parametrize("call, message", [
    (lambda: ex.attention_explorer(scaled_dot_product_attention, TOKENS, d_k=10), "d_k must be one of"),
    (lambda: ex.attention_explorer(scaled_dot_product_attention, "the cat"), "tokens"),
    (lambda: ex.attention_explorer(scaled_dot_product_attention, TOKENS, temperature=50), "temperature"),
    (lambda: ex.multi_head_explorer(multi_head_attention, TOKENS, num_heads=0), "num_heads"),
])
def test_bad_settings_are_refused_with_their_name(call, message):
    """Does a setting outside the sliders' range raise a ValueError naming it?"""
    with pytest.raises(ValueError, match=message):
        call()
