"""Attention maps with matplotlib.

This module only draws: the weights it shows are what the learner's own functions computed.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

#: Colour of cells whose weight is exactly zero (masked keys).
MASKED_COLOUR = "#d9d9d9"


def _colormap():
    # Masked (exactly zero) cells are drawn grey, not in the colour of a small weight.
    return plt.get_cmap("viridis").with_extremes(bad=MASKED_COLOUR)


#: Largest map (queries × keys) whose cells are annotated with their weight by default.
ANNOTATE_UP_TO = 10


def _scale(w, vmin, vmax):
    """The colour limits: the given ones, or the weights' own range where a limit is None."""
    finite = w[np.isfinite(w)]
    low = float(vmin) if vmin is not None else float(finite.min()) if finite.size else 0.0
    high = float(vmax) if vmax is not None else float(finite.max()) if finite.size else 1.0
    return low, max(high, low + 1e-12)


def _annotate(asked, n_rows, n_cols):
    """Whether to write the weights in the cells: as asked, or by default for small maps."""
    if asked is None:
        return n_rows <= ANNOTATE_UP_TO and n_cols <= ANNOTATE_UP_TO
    return bool(asked)


def _write_values(ax, image, w, fontsize):
    """Each visible cell's weight, two decimals, in black or white, whichever reads on its colour."""
    for (i, j), value in np.ndenumerate(w):
        if value == 0 or not np.isfinite(value):
            continue  # masked cells stay plain grey
        r, g, b, _ = image.cmap(image.norm(value))
        colour = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=fontsize)


def _draw(ax, w, query_labels, key_labels, vmin, vmax, annotate, fontsize=8):
    shown = np.ma.masked_where(w == 0, w)
    image = ax.imshow(shown, cmap=_colormap(), vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    n_q, n_k = w.shape
    for labels, n, axis, setter, name in (
        (key_labels, n_k, "x", ax.set_xticks, "key_labels"),
        (query_labels, n_q, "y", ax.set_yticks, "query_labels"),
    ):
        if labels is None:
            continue
        labels = [str(label) for label in labels]
        if len(labels) != n:
            what = "keys" if axis == "x" else "queries"
            raise ValueError(f"{name} has {len(labels)} labels for {n} {what}")
        setter(range(n), labels, rotation=90 if axis == "x" else 0)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if annotate:
        _write_values(ax, image, w, fontsize)
    return image


def attention_map(weights, query_labels=None, key_labels=None, ax=None, title=None, *, vmin=0.0, vmax=1.0,
                  annotate=None):
    """Draw one attention map as a heatmap.

    Parameters
    ----------
    weights : array_like of shape (n_q, n_k)
        Attention weights; exactly-zero (masked) cells are drawn grey.
    query_labels : sequence of str of length n_q, optional
        Tick labels of the rows (queries, on the y axis).
    key_labels : sequence of str of length n_k, optional
        Tick labels of the columns (keys, on the x axis).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
    vmin, vmax : float or None, default 0.0 and 1.0
        The weights at the two ends of the colour scale. The fixed default 0–1, the range of
        every attention weight, draws the same weight in the same colour in every map, so
        maps can be compared by eye; None takes the map's own minimum or maximum instead.
    annotate : bool, optional
        Write each visible cell's weight in it (two decimals). By default only for maps of
        at most 10 × 10 cells, where the numbers still fit.

    Returns
    -------
    matplotlib.axes.Axes
        The heatmap's axes (its figure also holds a colour bar).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(
            f"attention_map draws one (n_q, n_k) map, got shape {w.shape}; "
            "use attention_heads for (h, n_q, n_k)"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.45 * w.shape[1], 0.8 + 0.4 * w.shape[0]))
    low, high = _scale(w, vmin, vmax)
    image = _draw(ax, w, query_labels, key_labels, low, high, _annotate(annotate, *w.shape))
    ax.figure.colorbar(image, ax=ax, label="weight")
    if title:
        ax.set_title(title)
    return ax


def attention_heads(weights, query_labels=None, key_labels=None, ncols=4, title=None, *, vmin=0.0,
                    vmax=1.0, annotate=None):
    """Draw one attention map per head on a shared colour scale.

    Parameters
    ----------
    weights : array_like of shape (h, n_q, n_k)
        Per-head weights (leading axes of size one are dropped).
    query_labels, key_labels : sequence of str, optional
        Token labels for the queries (y) and keys (x).
    ncols : int, default 4
        Panels per row.
    title : str, optional
        Title of the whole figure.
    vmin, vmax : float or None, default 0.0 and 1.0
        The ends of the one colour scale that every panel shares; None takes the smallest or
        largest weight of all heads instead.
    annotate : bool, optional
        Write each visible cell's weight in it; by default only for maps of at most 10 × 10.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per head, titled ``head i``, and one colour bar.
    """
    w = np.asarray(weights, dtype=np.float64)
    while w.ndim > 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 3:
        raise ValueError(f"attention_heads expects weights of shape (h, n_q, n_k), got {w.shape}")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    h = w.shape[0]
    ncols = min(ncols, h)
    nrows = math.ceil(h / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(0.6 + ncols * (0.8 + 0.35 * w.shape[2]), nrows * (0.9 + 0.35 * w.shape[1])),
        squeeze=False, constrained_layout=True,
    )
    low, high = _scale(w, vmin, vmax)
    annotate = _annotate(annotate, *w.shape[1:])
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= h:
            ax.remove()
            continue
        image = _draw(ax, w[i], query_labels, key_labels, low, high, annotate, fontsize=7)
        ax.set_title(f"head {i}")
    fig.colorbar(image, ax=[a for a in axes.flat[:h]], label="weight")
    if title:
        fig.suptitle(title)
    return fig


class when_implemented:  # noqa: N801 - used as a context manager, named for how it reads
    """Skip a plot, with a short message, while the learner's function is still a stub.

    Use in notebook plot cells::

        with when_implemented("softmax"):
            attention_map(softmax(scores))

    A ``NotImplementedError`` raised inside the block is swallowed and replaced
    by one line telling the learner which function to implement; any other
    error propagates as usual.

    Parameters
    ----------
    *names : str
        The functions the plot needs, named in the message.
    """

    def __init__(self, *names):
        self.names = names

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None and issubclass(kind, NotImplementedError):
            needed = ", ".join(f"`{n}`" for n in self.names) or "the functions above"
            print(f"Plot skipped: implement {needed} first, then run this cell again.")
            plt.close("all")
            return True
        return False
