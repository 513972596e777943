"""An interactive attention explorer: sliders and toggles that redraw what the learner's function computes.

The explorer draws random unit-variance queries and keys (the setting of the
variance argument for the √d_k scaling), runs the learner's own attention
function on them and shows the attention map. The tokens are labelled
neutrally, ``t0, t1, …``: their vectors are random, so a word as a label
would suggest a meaning that is not there. Sliders set the key dimension
``d_k`` (``d_head`` for multi-head attention) and a temperature, check boxes
switch a causal and a padding mask on and off, and a head selector picks one
head of multi-head attention.

In JupyterLab the explorer is a live ipywidgets view. Everywhere else (a
notebook run by nbclient or nbconvert, a static viewer) its output holds a PNG
of the initial map as well, so the cell still shows a figure.

This module only draws and makes toy inputs (the masks are built here with
NumPy): the attention computed is always the learner's own.
"""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .plot import attention_heads, attention_map

#: Values offered by the d_k slider of :func:`attention_explorer`.
D_K_CHOICES = (2, 4, 8, 16, 32, 64, 128, 256, 512)
#: Values offered by the d_head slider of :func:`multi_head_explorer`.
D_HEAD_CHOICES = (2, 4, 8, 16, 32, 64, 128)
#: Label of the padding tokens appended to the sentence.
PAD = "<pad>"
#: Range of the temperature slider, as powers of ten.
TEMPERATURE_EXPONENTS = (-1.0, 1.0)
#: Shown instead of a traceback while the learner's function is still a stub.
SKIPPED = "Plot skipped: implement `{name}` first, then run this cell again."


def _name(fn):
    return getattr(fn, "__name__", None) or "the attention function"


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return int(value)


def _check_temperature(temperature):
    low, high = (10.0 ** e for e in TEMPERATURE_EXPONENTS)
    if not isinstance(temperature, int | float | np.floating) or not low <= temperature <= high:
        raise ValueError(f"temperature must be a number in [{low:g}, {high:g}], got {temperature!r}")
    return float(temperature)


def token_labels(tokens):
    """The labels of the explorer's random tokens: neutral ones, or the caller's.

    Parameters
    ----------
    tokens : int or sequence of str
        A number of tokens n, labelled ``t0, t1, …, t(n-1)``; or one label per token.

    Returns
    -------
    list of str
    """
    if isinstance(tokens, int | np.integer) and not isinstance(tokens, bool):
        return [f"t{i}" for i in range(_check_int(tokens, "tokens", 1))]
    if isinstance(tokens, str) or not hasattr(tokens, "__len__") or not len(tokens):
        raise ValueError(f"tokens must be a number of tokens (>= 1) or a non-empty sequence of labels, "
                         f"got {tokens!r}")
    return [str(token) for token in tokens]


def _unit_normal(rng, n, d, k):
    """``k`` arrays (n, d) of N(0, 1) entries; the first columns do not depend on ``d``."""
    # Drawn column by column, so that a larger d only appends new columns: moving the d slider
    # keeps the same vectors and adds dimensions to them.
    return rng.standard_normal((d, k, n)).transpose(1, 2, 0)  # (k, n, d)


def explorer_inputs(n_tokens, d_k, *, n_pad=0, seed=0):
    """Random self-attention inputs with unit-variance entries, padding rows zero.

    Parameters
    ----------
    n_tokens : int
        Number of real tokens.
    d_k : int
        Length of every query and key (and value) vector.
    n_pad : int, default 0
        Padding tokens appended after the real ones; their vectors are zero.
    seed : int, default 0
        Seed of a local generator.

    Returns
    -------
    Q, K, V : ndarray of shape (n_tokens + n_pad, d_k)
        Independent N(0, 1) entries in the real rows, so that ``Var(q · k) = d_k``.
        For a given seed, a larger ``d_k`` keeps the first ``d_k`` columns and adds new ones.
    """
    n_tokens = _check_int(n_tokens, "n_tokens", 1)
    d_k = _check_int(d_k, "d_k", 1)
    n_pad = _check_int(n_pad, "n_pad", 0)
    Q, K, V = _unit_normal(np.random.default_rng(seed), n_tokens, d_k, 3)
    pad = np.zeros((n_pad, d_k))
    return tuple(np.concatenate([M, pad]) for M in (Q, K, V))


def explorer_mask(n_tokens, n_pad, *, causal, padding):
    """The mask that the explorer's check boxes ask for.

    Parameters
    ----------
    n_tokens : int
        Number of real tokens.
    n_pad : int
        Number of padding tokens after them.
    causal : bool
        Hide the future: query i may see keys j <= i only.
    padding : bool
        Hide the padding keys (the last ``n_pad`` positions).

    Returns
    -------
    ndarray of bool of shape (n, n), n = n_tokens + n_pad, or None
        True = may attend; None when neither mask is on.
    """
    n_tokens = _check_int(n_tokens, "n_tokens", 1)
    n_pad = _check_int(n_pad, "n_pad", 0)
    if not (causal or padding):
        return None
    n = n_tokens + n_pad
    mask = np.ones((n, n), dtype=bool)
    if causal:
        mask &= np.arange(n)[None, :] <= np.arange(n)[:, None]  # key j <= query i
    if padding:
        mask &= (np.arange(n) < n_tokens)[None, :]  # padding keys hidden from every query
    return mask


def _weights_of(result, name, expected):
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ValueError(f"`{name}` must return (out, weights), got {type(result).__name__}")
    weights = np.asarray(result[1], dtype=np.float64)
    if weights.shape != expected:
        raise ValueError(f"`{name}` returned weights of shape {weights.shape}, expected {expected}")
    return weights


def self_attention_weights(attention_fn, Q, K, V, mask=None, temperature=1.0):
    """The weights that the learner's function gives the explorer's inputs, at a temperature.

    Parameters
    ----------
    attention_fn : callable
        ``attention_fn(Q, K, V, mask=mask) -> (out, weights)``, e.g. the learner's
        ``scaled_dot_product_attention``.
    Q : ndarray of shape (n_q, d_k)
    K : ndarray of shape (n_k, d_k)
    V : ndarray of shape (n_k, d_v)
    mask : ndarray of bool of shape (n_q, n_k), optional
    temperature : float, default 1.0
        The queries are divided by it, so every score is divided by it: below one the
        weights sharpen, above one they flatten.

    Returns
    -------
    ndarray of shape (n_q, n_k)

    Raises
    ------
    NotImplementedError
        Whatever the learner's stub raises, unchanged.
    ValueError
        If the function does not return ``(out, weights)`` with weights of shape (n_q, n_k).
    """
    temperature = _check_temperature(temperature)
    result = attention_fn(Q / temperature, K, V, mask=mask)
    return _weights_of(result, _name(attention_fn), (Q.shape[0], K.shape[0]))


def multi_head_inputs(n_tokens, d_head, num_heads, *, n_pad=0, seed=0):
    """Random token vectors and projections for multi-head self-attention.

    Parameters
    ----------
    n_tokens : int
        Number of real tokens.
    d_head : int
        Width of one head; ``d_model = num_heads * d_head``.
    num_heads : int
    n_pad : int, default 0
        Padding tokens appended after the real ones; their vectors are zero.
    seed : int, default 0
        Seed of a local generator.

    Returns
    -------
    X : ndarray of shape (n_tokens + n_pad, d_model)
        N(0, 1) entries in the real rows.
    params : dict of str to ndarray
        ``W_q, W_k, W_v, W_o`` of shape (d_model, d_model), drawn from N(0, 1/d_model) so that
        every projected entry has unit variance, and zero biases ``b_q, b_k, b_v, b_o``.
    """
    n_tokens = _check_int(n_tokens, "n_tokens", 1)
    d_model = _check_int(d_head, "d_head", 1) * _check_int(num_heads, "num_heads", 1)
    n_pad = _check_int(n_pad, "n_pad", 0)
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.standard_normal((n_tokens, d_model)), np.zeros((n_pad, d_model))])
    params = {name: rng.normal(0.0, d_model ** -0.5, size=(d_model, d_model))
              for name in ("W_q", "W_k", "W_v", "W_o")}
    params.update({name: np.zeros(d_model) for name in ("b_q", "b_k", "b_v", "b_o")})
    return X, params


def multi_head_weights(multi_head_fn, X, params, num_heads, mask=None, temperature=1.0):
    """Every head's weights that the learner's multi-head attention gives ``X``, at a temperature.

    Parameters
    ----------
    multi_head_fn : callable
        ``multi_head_fn(X_q, X_kv, params, num_heads, mask=mask) -> (out, weights)``,
        e.g. the learner's ``multi_head_attention``; called for self-attention.
    X : ndarray of shape (n, d_model)
    params : dict of str to ndarray
        As :func:`multi_head_inputs` makes them (zero query bias).
    num_heads : int
    mask : ndarray of bool of shape (n, n), optional
    temperature : float, default 1.0
        ``W_q`` is divided by it, so with a zero ``b_q`` every head's scores are divided by it.

    Returns
    -------
    ndarray of shape (num_heads, n, n)

    Raises
    ------
    NotImplementedError
        Whatever the learner's stub raises, unchanged.
    ValueError
        If the function does not return ``(out, weights)`` with weights of shape (h, n, n).
    """
    temperature = _check_temperature(temperature)
    scaled = dict(params, W_q=np.asarray(params["W_q"]) / temperature)  # params are not modified
    result = multi_head_fn(X, X, scaled, num_heads, mask=mask)
    n = X.shape[0]
    return _weights_of(result, _name(multi_head_fn), (num_heads, n, n))


def weights_summary(weights):
    """One line on how sharp the weights are: the typical query's largest weight and entropy.

    Parameters
    ----------
    weights : array_like of shape (..., n_q, n_k)

    Returns
    -------
    str
        Medians over the queries that may see at least one key (fully masked rows are left out).
    """
    w = np.asarray(weights, dtype=np.float64)
    w = w.reshape(-1, w.shape[-1])
    rows = w[w.sum(axis=-1) > 0]
    if not len(rows):
        return "every query is fully masked"
    entropy = -np.sum(rows * np.log(np.where(rows > 0, rows, 1.0)), axis=-1)  # 0 log 0 = 0
    return (f"median over queries: largest weight {np.median(rows.max(axis=-1)):.2f}, "
            f"entropy {np.median(entropy):.2f} nats")


def _settings_text(d_name, d, temperature, causal, padding):
    masks = " + ".join(m for m, on in (("causal", causal), ("padding", padding)) if on) or "no"
    return f"{d_name} = {d}, temperature {temperature:.2g}, {masks} mask"


def draw_self_attention(weights, labels, title=None):
    """A figure of one attention map, made without pyplot (nothing for the notebook to show twice).

    Parameters
    ----------
    weights : array_like of shape (n, n)
    labels : sequence of str of length n
        The tokens, for both axes.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(labels)
    fig = Figure(figsize=(max(6.5, 2.0 + 0.45 * n), max(4.5, 1.6 + 0.4 * n)), layout="constrained")
    attention_map(weights, labels, labels, ax=fig.subplots())
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_heads(weights, labels, head="all", title=None):
    """A figure of every head's map on one colour scale, or of one head's map.

    Parameters
    ----------
    weights : array_like of shape (h, n, n)
    labels : sequence of str of length n
    head : int or "all", default "all"
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(weights)
    if head == "all":
        fig = attention_heads(w, labels, labels, ncols=min(4, w.shape[0]), title=title)
        plt.close(fig)  # drawn for its PNG only: keep it out of pyplot, so the notebook does not show it
        return fig
    head = _check_int(head, "head", 0)
    if head >= w.shape[0]:
        raise ValueError(f"head must be 'all' or below {w.shape[0]}, got {head}")
    return draw_self_attention(w[head], labels, title=f"head {head}: {title}" if title else f"head {head}")


def figure_png(fig, dpi=100):
    """PNG bytes of a figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default 100

    Returns
    -------
    bytes
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def png_width(png):
    """Width in pixels of a PNG image (from its header).

    Parameters
    ----------
    png : bytes

    Returns
    -------
    int
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG image")
    return int.from_bytes(png[16:20], "big")


class AttentionExplorer:
    """Widgets that redraw an attention map whenever one of them changes.

    Parameters
    ----------
    draw : callable
        ``draw(**values) -> matplotlib.figure.Figure``, called with the current value of
        every control; it runs the learner's function.
    controls : dict of str to ipywidgets.ValueWidget
        The sliders, check boxes and selectors, by the name of ``draw``'s argument.
    name : str
        The learner's function, named in messages.

    Attributes
    ----------
    png : bytes
        The map currently shown.
    status : ipywidgets.HTML
        Empty, or a one-line message when the last redraw failed (the previous map stays).
    widget : ipywidgets.VBox
        The controls, the map and the status line.
    """

    def __init__(self, draw, controls, name):
        import ipywidgets as widgets

        self._draw = draw
        self.controls = dict(controls)
        self.name = name
        self.png = figure_png(self._figure())  # NotImplementedError propagates from here
        # Shown at its own width: a stretched PNG is blurred.
        self.image = widgets.Image(value=self.png, format="png", width=str(png_width(self.png)))
        self.image.add_class("explorer-map")
        self.status = widgets.HTML("")
        self.status.add_class("explorer-status")
        for key, control in self.controls.items():
            control.add_class(f"explorer-{key.replace('_', '-')}")
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox(
            [widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
             self.image, self.status])
        self.widget.add_class("attention-explorer")

    def values(self):
        """The current value of every control, by name."""
        return {key: control.value for key, control in self.controls.items()}

    def _figure(self):
        fig = self._draw(**self.values())
        if not isinstance(fig, Figure):
            raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
        return fig

    def redraw(self):
        """Run the learner's function with the current settings and show the new map.

        Returns
        -------
        bool
            True when the map was redrawn; False when the function failed, in which case
            :attr:`status` says why in one line and the previous map stays.
        """
        try:
            png = figure_png(self._figure())
        except NotImplementedError:
            self.status.value = _escape(SKIPPED.format(name=self.name))
            return False
        except Exception as error:  # the learner's bug: one line in the widget, not a lost traceback
            self.status.value = _escape(f"`{self.name}` raised {type(error).__name__}: {error}")
            return False
        self.png = png
        self.image.width = str(png_width(png))
        self.image.value = png
        self.status.value = ""
        return True

    def _on_change(self, change):
        self.redraw()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # The live widget for a widget front end, and the current map as a PNG for everything
        # else (nbclient, nbconvert, static viewers): JupyterLab prefers the widget view.
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs) or {})
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        bundle["text/plain"] = f"<attention explorer of `{self.name}`: interactive in JupyterLab>"
        return bundle


def _escape(text):
    import html

    return f"<code>{html.escape(text)}</code>"


def _skipped(name):
    print(SKIPPED.format(name=name))
    return None


def _temperature_slider(widgets, temperature):
    low, high = TEMPERATURE_EXPONENTS
    return widgets.FloatLogSlider(value=temperature, base=10, min=low, max=high, step=0.1,
                                  description="temperature", readout_format=".2g",
                                  continuous_update=False, style={"description_width": "initial"})


def _mask_boxes(widgets, causal, padding, n_pad):
    return (widgets.Checkbox(value=bool(causal), description="causal mask", indent=False),
            widgets.Checkbox(value=bool(padding), indent=False,
                             description=f"padding mask (hide the {n_pad} {PAD} keys)"))


def attention_explorer(attention_fn, tokens=8, *, d_k=16, temperature=1.0, causal=False, padding=False,
                       n_pad=2, seed=0):
    """Explore the attention map of the learner's attention function.

    Random unit-variance queries, keys and values of length ``d_k`` stand for the tokens
    (``n_pad`` zero ``<pad>`` tokens are appended). A slider sets ``d_k``, another a
    temperature that divides every score, and two check boxes switch the causal and the
    padding mask; each change runs ``attention_fn`` again and redraws the map.

    Parameters
    ----------
    attention_fn : callable
        ``attention_fn(Q, K, V, mask=None) -> (out, weights)``: the learner's
        ``scaled_dot_product_attention`` or ``dot_product_attention``.
    tokens : int or sequence of str, default 8
        The number of real tokens, labelled ``t0, t1, …``; or their labels. The vectors are
        random whatever the labels say, so neutral labels are the honest ones.
    d_k : int, default 16
        Initial key dimension, one of :data:`D_K_CHOICES`.
    temperature : float, default 1.0
        Initial temperature, between 0.1 and 10.
    causal, padding : bool, default False
        Initial state of the two masks.
    n_pad : int, default 2
        Number of padding tokens.
    seed : int, default 0
        Seed of the random vectors.

    Returns
    -------
    AttentionExplorer or None
        Shown as a live widget in JupyterLab and as a static map elsewhere. None, after a
        one-line message, while ``attention_fn`` raises ``NotImplementedError``.
    """
    import ipywidgets as widgets

    name = _name(attention_fn)
    labels = token_labels(tokens)
    n_tokens = len(labels)
    n_pad = _check_int(n_pad, "n_pad", 0)
    labels = labels + [PAD] * n_pad

    def draw(d_k, temperature, causal, padding):
        Q, K, V = explorer_inputs(n_tokens, d_k, n_pad=n_pad, seed=seed)
        mask = explorer_mask(n_tokens, n_pad, causal=causal, padding=padding)
        weights = self_attention_weights(attention_fn, Q, K, V, mask, temperature)
        settings = _settings_text("d_k", d_k, temperature, causal, padding)
        return draw_self_attention(weights, labels, f"{name}: {settings}\n{weights_summary(weights)}")

    causal_box, padding_box = _mask_boxes(widgets, causal, padding, n_pad)
    controls = {
        "d_k": widgets.SelectionSlider(options=D_K_CHOICES, value=_check_choice(d_k, D_K_CHOICES, "d_k"),
                                       description="d_k", continuous_update=False),
        "temperature": _temperature_slider(widgets, _check_temperature(temperature)),
        "causal": causal_box,
        "padding": padding_box,
    }
    try:
        return AttentionExplorer(draw, controls, name)
    except NotImplementedError:
        return _skipped(name)


def multi_head_explorer(multi_head_fn, tokens=6, *, num_heads=4, d_head=8, temperature=1.0, causal=False,
                        padding=False, n_pad=2, seed=0):
    """Explore every head's attention map of the learner's multi-head attention.

    Random unit-variance token vectors of width ``d_model = num_heads * d_head`` stand for the
    tokens (``n_pad`` zero ``<pad>`` tokens are appended) and random projections, shared by all
    settings of the same ``d_head``, make the heads. Controls: ``d_head``, a temperature,
    the causal and padding masks, and which head to show (or all of them).

    Parameters
    ----------
    multi_head_fn : callable
        ``multi_head_fn(X_q, X_kv, params, num_heads, mask=None) -> (out, weights)``: the
        learner's ``multi_head_attention``, called for self-attention.
    tokens : int or sequence of str, default 6
        The number of real tokens, labelled ``t0, t1, …``; or their labels (the vectors are
        random whatever the labels say).
    num_heads : int, default 4
    d_head : int, default 8
        Initial width of a head, one of :data:`D_HEAD_CHOICES`.
    temperature : float, default 1.0
        Initial temperature, between 0.1 and 10.
    causal, padding : bool, default False
        Initial state of the two masks.
    n_pad : int, default 2
    seed : int, default 0

    Returns
    -------
    AttentionExplorer or None
        Shown as a live widget in JupyterLab and as a static figure elsewhere. None, after a
        one-line message, while ``multi_head_fn`` raises ``NotImplementedError``.
    """
    import ipywidgets as widgets

    name = _name(multi_head_fn)
    labels = token_labels(tokens)
    n_tokens = len(labels)
    n_pad = _check_int(n_pad, "n_pad", 0)
    num_heads = _check_int(num_heads, "num_heads", 1)
    labels = labels + [PAD] * n_pad

    def draw(d_head, temperature, causal, padding, head):
        X, params = multi_head_inputs(n_tokens, d_head, num_heads, n_pad=n_pad, seed=seed)
        mask = explorer_mask(n_tokens, n_pad, causal=causal, padding=padding)
        weights = multi_head_weights(multi_head_fn, X, params, num_heads, mask, temperature)
        shown = weights if head == "all" else weights[head]
        settings = _settings_text("d_head", d_head, temperature, causal, padding)
        return draw_heads(weights, labels, head, f"{name}: {settings}\n{weights_summary(shown)}")

    causal_box, padding_box = _mask_boxes(widgets, causal, padding, n_pad)
    controls = {
        "d_head": widgets.SelectionSlider(options=D_HEAD_CHOICES, description="d_head",
                                          value=_check_choice(d_head, D_HEAD_CHOICES, "d_head"),
                                          continuous_update=False),
        "temperature": _temperature_slider(widgets, _check_temperature(temperature)),
        "causal": causal_box,
        "padding": padding_box,
        "head": widgets.ToggleButtons(options=[("all", "all")] + [(str(i), i) for i in range(num_heads)],
                                      value="all", description="head",
                                      style={"button_width": "3.2em"}),
    }
    try:
        return AttentionExplorer(draw, controls, name)
    except NotImplementedError:
        return _skipped(name)
