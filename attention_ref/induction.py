"""The training pieces and the measurements of notebook 07 (induction heads).

A two-layer attention-only transformer is trained on sequences of random tokens whose
second half repeats the first. Besides :func:`~attention_ref.multi_head_attention_backward`,
training it needs the next-token loss and its gradient, the gradient of the embedding
table and an optimiser step; watching it needs scores that say what each head attends to.

Reference: C. Olsson et al. (2022), "In-context Learning and Induction Heads",
Transformer Circuits Thread. Their *prefix-matching score* is :func:`induction_score`.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_positive_int, require_ndim


def _as_int_array(x, name):
    """``x`` as an integer ndarray, or a ValueError naming it."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers (token ids), got dtype {arr.dtype}")
    return arr


def _check_ids(ids, name, size, size_name):
    """Raise a ValueError unless every id lies in [0, size)."""
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise ValueError(
            f"{name} must lie in [0, {size_name}={size}), got values in [{ids.min()}, {ids.max()}]"
        )


def repeated_random_tokens(rng, batch_size, half_len, vocab_size):
    """Sequences of random tokens whose second half repeats the first (the task of notebook 07).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    batch_size : int
        Number of sequences ``B``.
    half_len : int
        Number ``L`` of random tokens in each half.
    vocab_size : int
        The random tokens are drawn uniformly, with replacement, from ``0 … vocab_size − 1``;
        id ``vocab_size`` is the beginning-of-sequence marker BOS.

    Returns
    -------
    ndarray of int64 of shape (B, 2 L + 2)
        ``BOS x_1 … x_L BOS x_1 … x_L``: BOS at positions 0 and ``L + 1``, and
        ``tokens[:, L + 1 + i] == tokens[:, i]`` for ``0 <= i <= L``.

    Notes
    -----
    Each half starts with BOS, so the whole second half can be predicted by copying — its first
    token included, which follows the second BOS as ``x_1`` followed the first — while nothing
    announces the copy earlier: the first half's tokens stay unpredictable (chance: log V).
    The model never has to predict a BOS.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    batch_size = check_positive_int(batch_size, "batch_size")
    half_len = check_positive_int(half_len, "half_len")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    x = rng.integers(0, vocab_size, size=(batch_size, half_len))  # (B, L)
    bos = np.full((batch_size, 1), vocab_size, dtype=x.dtype)  # (B, 1)
    return np.concatenate([bos, x, bos, x], axis=-1)  # (B, 2L + 2)


def cross_entropy(logits, targets):
    """Cross-entropy of each prediction: minus the log-probability of its target.

    Parameters
    ----------
    logits : array_like of shape (..., V)
        Unnormalised scores over a vocabulary of ``V`` tokens, one row per prediction.
    targets : array_like of int of shape (...)
        The correct token of each prediction, in ``[0, V)``.

    Returns
    -------
    ndarray of shape (...)
        ``loss[...] = logsumexp(logits[..., :]) − logits[..., targets[...]]``, in the dtype of
        ``logits`` (integers become float64). Finite for any finite logits.

    Notes
    -----
    With :math:`p = \\operatorname{softmax}(z)` and target :math:`t`:

    .. math:: \\ell = -\\log p_t = \\log \\sum_j e^{z_j} - z_t
              = m + \\log \\sum_j e^{z_j - m} - z_t, \\quad m = \\max_j z_j

    Subtracting the maximum keeps every exponent at most zero: no overflow, and the
    sum is at least one, so its logarithm is finite. Uniform logits give :math:`\\log V`.
    """
    logits = as_float_array(logits, "logits")
    require_ndim(logits, "logits", 1, "(..., V)")
    targets = _as_int_array(targets, "targets")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have the shape of logits without its last axis: logits {logits.shape} "
            f"(..., V) needs targets {logits.shape[:-1]}, got {targets.shape}"
        )
    _check_ids(targets, "targets", logits.shape[-1], "V")
    m = logits.max(axis=-1, keepdims=True)  # (..., 1)
    lse = np.log(np.exp(logits - m).sum(axis=-1)) + m[..., 0]  # (...)
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]  # (...)
    return lse - picked


def cross_entropy_backward(dloss, logits, targets):
    """Gradient of a loss with respect to the logits, through :func:`cross_entropy`.

    Parameters
    ----------
    dloss : array_like of shape (...)
        Upstream gradient dL/dloss of each prediction's cross-entropy (for a mean over
        ``N`` predictions, ``1 / N`` everywhere).
    logits : array_like of shape (..., V)
    targets : array_like of int of shape (...)

    Returns
    -------
    ndarray of shape (..., V)
        ``dloss[..., None] * (softmax(logits) − one_hot(targets, V))``, in the common dtype
        of ``dloss`` and ``logits``.

    Notes
    -----
    .. math:: \\frac{\\partial \\ell}{\\partial z_j} = p_j - [j = t]

    The softmax's Jacobian and the logarithm's derivative :math:`-1/p_t` cancel into this
    difference: predicted minus wanted distribution.
    """
    logits = as_float_array(logits, "logits")
    dloss = as_float_array(dloss, "dloss")
    require_ndim(logits, "logits", 1, "(..., V)")
    targets = _as_int_array(targets, "targets")
    if targets.shape != logits.shape[:-1] or dloss.shape != logits.shape[:-1]:
        raise ValueError(
            f"dloss and targets must have the shape of logits without its last axis: logits "
            f"{logits.shape} (..., V) needs {logits.shape[:-1]}, got dloss {dloss.shape} and "
            f"targets {targets.shape}"
        )
    _check_ids(targets, "targets", logits.shape[-1], "V")
    dtype = np.result_type(dloss, logits)
    m = logits.max(axis=-1, keepdims=True)
    p = np.exp(logits - m)
    p /= p.sum(axis=-1, keepdims=True)  # (..., V): softmax(logits)
    one_hot = np.arange(logits.shape[-1]) == targets[..., None]  # (..., V)
    return (dloss[..., None] * (p - one_hot)).astype(dtype, copy=False)


def embedding_backward(dout, tokens, vocab_size):
    """Gradient of an embedding table from the gradient of the rows it looked up.

    Parameters
    ----------
    dout : array_like of shape (..., d)
        Upstream gradient of ``E = W_E[tokens]``, dL/dE.
    tokens : array_like of int of shape (...)
        The token ids that were looked up, in ``[0, vocab_size)``; ``dout.shape[:-1]``.
    vocab_size : int
        Number of rows ``V`` of the table.

    Returns
    -------
    ndarray of shape (vocab_size, d)
        Row ``t`` is the sum of the rows of ``dout`` at the positions holding token ``t``
        (zeros for a token that does not occur), in the dtype of ``dout``.

    Notes
    -----
    The lookup is a product with one-hot rows, :math:`E = Y W_E` with
    :math:`Y_{p,t} = [\\text{tokens}_p = t]`, so :math:`dW_E = Y^\\top dE`: every occurrence
    of a token adds its gradient to that token's row. ``dW[tokens] += dout`` would keep only
    one of several occurrences; ``np.add.at`` adds them all.
    """
    dout = as_float_array(dout, "dout")
    require_ndim(dout, "dout", 1, "(..., d)")
    tokens = _as_int_array(tokens, "tokens")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    if tokens.shape != dout.shape[:-1]:
        raise ValueError(
            f"tokens must have the shape of dout without its last axis: dout {dout.shape} (..., d) "
            f"needs tokens {dout.shape[:-1]}, got {tokens.shape}"
        )
    _check_ids(tokens, "tokens", vocab_size, "vocab_size")
    d = dout.shape[-1]
    dW = np.zeros((vocab_size, d), dtype=dout.dtype)
    np.add.at(dW, tokens.reshape(-1), dout.reshape(-1, d))
    return dW


def adam_update(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam for one parameter array.

    Parameters
    ----------
    param : array_like of any shape
        The parameter before the step.
    grad : array_like of the shape of param
        Its gradient dL/dparam.
    m, v : array_like of the shape of param
        The running first and second moment estimates (zeros before the first step).
    t : int
        The step's number, starting at 1 (for the bias correction).
    lr : float
        Learning rate.
    beta1, beta2 : float, default 0.9 and 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator.

    Returns
    -------
    new_param, new_m, new_v : ndarray of the shape of param
        In the common dtype of the inputs (float32 stays float32); the inputs are not modified.

    Notes
    -----
    Kingma & Ba (2015), algorithm 1:

    .. math:: m \\leftarrow \\beta_1 m + (1 - \\beta_1) g, \\qquad
              v \\leftarrow \\beta_2 v + (1 - \\beta_2) g^2,

    .. math:: \\hat m = \\frac{m}{1 - \\beta_1^t}, \\qquad \\hat v = \\frac{v}{1 - \\beta_2^t}, \\qquad
              \\theta \\leftarrow \\theta - \\eta \\frac{\\hat m}{\\sqrt{\\hat v} + \\varepsilon}

    Each entry moves by about ``lr`` at most, whatever the scale of its gradient.
    """
    arrays = {name: as_float_array(x, name) for name, x in
              (("param", param), ("grad", grad), ("m", m), ("v", v))}
    shapes = {name: x.shape for name, x in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError("param, grad, m and v must have the same shape, got "
                         + ", ".join(f"{name} {shape}" for name, shape in shapes.items()))
    t = check_positive_int(t, "t")
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    param, grad, m, v = arrays.values()
    dtype = np.result_type(param, grad, m, v)
    lr, beta1, beta2, eps = float(lr), float(beta1), float(beta2), float(eps)  # keep float32 float32
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = new_m / (1 - beta1**t)
    v_hat = new_v / (1 - beta2**t)
    new_param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return tuple(x.astype(dtype, copy=False) for x in (new_param, new_m, new_v))


def _check_weights(weights):
    weights = as_float_array(weights, "weights")
    require_ndim(weights, "weights", 2, "(..., n, n)")
    if weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must be square self-attention maps (..., n, n), got {weights.shape}")
    return weights


def previous_token_score(weights):
    """How much each query attends to the position right before it.

    Parameters
    ----------
    weights : array_like of shape (..., n, n)
        Self-attention weights, rows are queries (for several heads: (..., h, n, n)).

    Returns
    -------
    ndarray of shape (...)
        The mean over the queries ``i = 1 … n−1`` of ``weights[..., i, i − 1]``: 1 for a perfect
        previous-token head; 0 when ``n < 2`` (no query has a previous position).

    Notes
    -----
    .. math:: \\text{prev}(A) = \\frac{1}{n-1} \\sum_{i=1}^{n-1} A_{i,\\,i-1}
    """
    weights = _check_weights(weights)
    n = weights.shape[-1]
    if n < 2:
        return np.zeros(weights.shape[:-2], dtype=weights.dtype)
    return np.diagonal(weights, offset=-1, axis1=-2, axis2=-1).mean(axis=-1)


def induction_targets(tokens):
    """Where an induction head should look: the positions right after earlier occurrences.

    Parameters
    ----------
    tokens : array_like of int of shape (..., n)

    Returns
    -------
    ndarray of bool of shape (..., n, n)
        ``M[..., i, j]`` is True iff ``1 <= j <= i`` and ``tokens[j − 1] == tokens[i]``: key ``j``
        holds the token that followed an *earlier* occurrence (at ``j − 1 < i``) of query
        ``i``'s token.
    """
    tokens = _as_int_array(tokens, "tokens")
    require_ndim(tokens, "tokens", 1, "(..., n)")
    n = tokens.shape[-1]
    M = np.zeros(tokens.shape + (n,), dtype=bool)  # (..., n, n)
    same = tokens[..., :, None] == tokens[..., None, :-1]  # (..., n, n−1): tokens[i] == tokens[j − 1]
    earlier = np.arange(n - 1)[None, :] < np.arange(n)[:, None]  # (n, n−1): j − 1 < i
    M[..., 1:] = same & earlier
    return M


def induction_score(weights, tokens):
    """How much each query attends to the tokens that followed earlier occurrences of its own token.

    Parameters
    ----------
    weights : array_like of shape (..., n, n)
        Self-attention weights, rows are queries.
    tokens : array_like of int, broadcastable to (..., n)
        The sequences the weights were computed on; for weights of several heads
        (B, h, n, n), pass ``tokens[:, None, :]`` (B, 1, n).

    Returns
    -------
    ndarray of shape (...)
        For each map, the mean over the *eligible* queries (those whose token occurred
        before) of the total weight on the induction targets of :func:`induction_targets`;
        0 for a map with no eligible query. 1 for a perfect induction head.

    Notes
    -----
    With :math:`T_i = \\{\\, j : 1 \\le j \\le i,\\ x_{j-1} = x_i \\,\\}` and
    :math:`E = \\{\\, i : T_i \\ne \\varnothing \\,\\}`:

    .. math:: \\text{ind}(A, x) = \\frac{1}{|E|} \\sum_{i \\in E} \\sum_{j \\in T_i} A_{ij}

    On a sequence whose second half repeats the first (and whose first half has no repeated
    token), :math:`E` is the second half and :math:`T_i = \\{i - L + 1\\}`. This is the
    prefix-matching score of Olsson et al. (2022).
    """
    weights = _check_weights(weights)
    tokens = _as_int_array(tokens, "tokens")
    require_ndim(tokens, "tokens", 1, "(..., n)")
    if tokens.shape[-1] != weights.shape[-1]:
        raise ValueError(f"tokens (..., n) and weights (..., n, n) disagree on n: tokens {tokens.shape}, "
                         f"weights {weights.shape}")
    try:
        batch = np.broadcast_shapes(tokens.shape[:-1], weights.shape[:-2])
    except ValueError:
        raise ValueError(f"the batch dimensions of tokens {tokens.shape} (..., n) and weights "
                         f"{weights.shape} (..., n, n) do not broadcast") from None
    M = induction_targets(tokens)  # (..., n, n)
    per_query = np.sum(weights * M, axis=-1)  # (..., n): weight on the targets
    eligible = M.any(axis=-1)  # (..., n)
    count = np.broadcast_to(eligible.sum(axis=-1), batch)  # (...)
    total = np.sum(per_query * eligible, axis=-1)  # (...)
    return (total / np.maximum(count, 1)).astype(weights.dtype, copy=False)


__all__ = [
    "repeated_random_tokens",
    "cross_entropy",
    "cross_entropy_backward",
    "embedding_backward",
    "adam_update",
    "previous_token_score",
    "induction_targets",
    "induction_score",
]
