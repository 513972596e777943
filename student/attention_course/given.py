"""Checks of *given* code: run a notebook's locked cells and judge what the learner's functions make of them.

Notebooks 05 and 07 give a small model and its training loop in locked cells; what is graded is
how well training goes with the learner's functions. The model exists once, in those cells:
the public check runs their text (shipped as data, the same text the notebook shows) and the
trusted grader runs them from the source notebook, so neither side keeps a copy of the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def run_given(sources: Sequence[str], inject: Mapping | None = None) -> dict:
    """Execute the given cells' code, in order, in a fresh namespace.

    Parameters
    ----------
    sources : sequence of str
        The cells' source code.
    inject : mapping, optional
        Names the cells use but do not define (e.g. the learner's or the reference's
        ``scaled_dot_product_attention_backward``).

    Returns
    -------
    dict
        The namespace the cells defined (``np`` is ``numpy``).
    """
    namespace = {"np": np, "__name__": "given_code", **(inject or {})}
    for number, source in enumerate(sources):
        exec(compile(source, f"<given cell {number + 1}>", "exec"), namespace)  # noqa: S102 - course's own code
    return namespace


#: Held-out accuracy that the trained reversal model must reach (stated in notebook 05, section 7).
REVERSAL_TARGET = 0.95


def held_out_sequences(tokens: np.ndarray, n_tok: int) -> np.ndarray:
    """Every sequence of the training sequences' length over ``n_tok`` tokens that is not one of them.

    Parameters
    ----------
    tokens : ndarray of int, shape (B, n_pos)
        The training sequences.

    Returns
    -------
    ndarray of int, shape (n_tok ** n_pos - len(unique training sequences), n_pos)
    """
    n_pos = tokens.shape[-1]
    every = np.indices((n_tok,) * n_pos).reshape(n_pos, -1).T  # (n_tok ** n_pos, n_pos), in order
    place = n_tok ** np.arange(n_pos - 1, -1, -1)  # a sequence's index in `every`
    return every[~np.isin(every @ place, tokens @ place)]


def _type_name(value):
    return "numpy.ndarray" if type(value) is np.ndarray else getattr(value, "type_name", type(value).__name__)


def _parameters_problem(params, got):
    """What is wrong with the returned value as a set of parameters, or None."""
    if not isinstance(got, dict):
        return f"expected a dict of parameters {sorted(params)}, got {_type_name(got)}"
    for name, W in params.items():
        value = got.get(name)
        if type(value) is not np.ndarray or value.shape != W.shape or value.dtype.kind != "f":
            return (f"expected the parameter {name!r} as a float array of shape {W.shape}, got "
                    f"{_type_name(value)}" + (f" of shape {value.shape}" if hasattr(value, "shape") else ""))
    return None


def _loss(given, params, tokens):
    """Mean cross-entropy of the given model on ``tokens``; inf or NaN for blown-up parameters."""
    with np.errstate(all="ignore"):
        out, _, _ = given["forward"](params, tokens)
        return float(given["loss_and_dout"](out, given["reverse_targets"](tokens))[0])


def reversal_outcome(given: Mapping, args: tuple, kwargs: Mapping, got) -> None | str | tuple:
    """Judge one run of notebook 05's ``reversal_training`` by what the returned parameters learned.

    Parameters
    ----------
    given : mapping
        The namespace of notebook 05's given cells (:func:`run_given`): ``forward``,
        ``loss_and_dout``, ``accuracy``, ``reverse_targets``, ``n_tok``.
    args, kwargs
        The case: ``(tokens, params)`` and ``{"steps": ..., "lr": ...}``.
    got : object
        What ``reversal_training`` returned.

    Returns
    -------
    None, str or tuple of (str, str)
        None when the held-out accuracy reaches :data:`REVERSAL_TARGET`; else a message, or
        ``(key, message)`` with key ``parameters_unchanged``, ``loss_increased`` (or blown up)
        or ``target_not_reached``.
    """
    tokens, params = args
    steps = kwargs.get("steps")
    problem = _parameters_problem(params, got)
    if problem:
        return f"reversal_training should return the trained parameters: {problem}."
    trained = {name: got[name] for name in params}
    if not all(np.isfinite(W).all() for W in trained.values()):
        return ("the trained parameters contain NaN or inf, although the given training loop stops "
                "before that happens.")
    held_out = held_out_sequences(tokens, int(given["n_tok"]))
    with np.errstate(all="ignore"):
        accuracy = float(given["accuracy"](trained, held_out))
    if accuracy >= REVERSAL_TARGET:
        return None
    start, end = _loss(given, params, tokens), _loss(given, trained, tokens)
    if all(np.array_equal(trained[name], W) for name, W in params.items()):
        key = "parameters_unchanged"
    elif not np.isfinite(end) or end > start:
        key = "loss_increased"
    else:
        key = "target_not_reached"
    message = (f"Training with your gradients did not reach the target: held-out accuracy {accuracy:.3f} "
               f"within {steps} steps; the target is ≥ {REVERSAL_TARGET} (measured by the grader on all "
               f"{len(held_out)} sequences that are not in the training set). The training loss went from "
               f"{start:.3f} at the start to {end:.3g} at the end.\n"
               "The model and its training loop are given, so the cause is in your backward pass: make the "
               "checks of softmax_backward and scaled_dot_product_attention_backward pass, and compare each "
               "of your gradients with numerical_gradient as in section 5 (gradient checks).")
    return key, message


#: What notebook 07's trained model must reach (stated in its section 8): the best layer-2 head's
#: induction score, the loss on the repeated half (nats), and how far above chance (log V) the loss
#: on the first half may be.
INDUCTION_TARGET, REPEATED_LOSS_TARGET, FIRST_HALF_MARGIN = 0.6, 0.7, 0.5


def _leaves(params, prefix=""):
    """(name, array) of every array of a nested dict of parameters: ``layer1.W_q``, ..."""
    for key, value in params.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _lookup(tree, name):
    for key in name.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def induction_outcome(given: Mapping, args: tuple, kwargs: Mapping, got) -> None | str | tuple:
    """Judge one run of notebook 07's ``induction_training`` by what the returned parameters learned.

    The measurement is the notebook's own given code (``measure``, ``evaluation_sequences``), run
    on sequences drawn from the case's seed apart from the training batches (every half length
    5 … 12, 32 sequences each).

    Parameters
    ----------
    given : mapping
        The namespace of notebook 07's given cells (:func:`run_given`): ``measure``,
        ``evaluation_sequences``, ``VOCAB``.
    args, kwargs
        The case: ``(params, seed)``.
    got : object
        What ``induction_training`` returned.

    Returns
    -------
    None, str or tuple of (str, str)
        None when the best layer-2 induction score reaches :data:`INDUCTION_TARGET`, the loss on
        the repeated half is at most :data:`REPEATED_LOSS_TARGET` and the loss on the first half
        at most log V + :data:`FIRST_HALF_MARGIN`; else a message, or ``(key, message)`` with key
        ``parameters_unchanged``, ``loss_increased`` (or blown up) or ``target_not_reached``.
    """
    params, seed = args[0], args[1]
    if not isinstance(got, dict):
        return f"induction_training should return the trained parameters as a dict, got {_type_name(got)}."
    for name, W in _leaves(params):
        value = _lookup(got, name)
        if type(value) is not np.ndarray or value.shape != W.shape or value.dtype.kind != "f":
            return (f"induction_training should return the trained parameters: expected the parameter "
                    f"{name!r} as a float array of shape {W.shape}, got {_type_name(value)}"
                    + (f" of shape {value.shape}." if hasattr(value, "shape") else "."))
    if not all(np.isfinite(_lookup(got, name)).all() for name, _ in _leaves(params)):
        return ("the trained parameters contain NaN or inf, although the given training loop stops "
                "before that happens.")
    sequences = given["evaluation_sequences"]((int(seed), 7))
    with np.errstate(all="ignore"):
        after = given["measure"](got, sequences)
    chance = float(np.log(given["VOCAB"]))
    induction = float(np.max(after["induction"][1]))
    first, repeated = float(after["loss_first"]), float(after["loss_repeated"])
    if (induction >= INDUCTION_TARGET and repeated <= REPEATED_LOSS_TARGET
            and first <= chance + FIRST_HALF_MARGIN):
        return None
    with np.errstate(all="ignore"):
        before = given["measure"](params, sequences)
    start = (float(before["loss_first"]) + float(before["loss_repeated"])) / 2
    end = (first + repeated) / 2
    if all(np.array_equal(_lookup(got, name), W) for name, W in _leaves(params)):
        key = "parameters_unchanged"
    elif not np.isfinite(end) or end > start:
        key = "loss_increased"
    else:
        key = "target_not_reached"
    message = (f"Training with your functions did not grow an induction head: measured by the grader on "
               f"{sum(len(s) for s in sequences)} sequences of its own, the best layer-2 head's induction "
               f"score is {induction:.2f} (target ≥ {INDUCTION_TARGET}), the loss on the repeated half "
               f"{repeated:.3g} nats (target ≤ {REPEATED_LOSS_TARGET}) and on the first half {first:.3g} "
               f"(target ≤ log {given['VOCAB']} + {FIRST_HALF_MARGIN} = {chance + FIRST_HALF_MARGIN:.2f}). "
               f"The mean loss went from {start:.3f} before training to {end:.3g} after it.\n"
               "The model and its training loop are given, so the cause is in your functions: make the "
               "checks of multi_head_attention_backward, cross_entropy_backward, embedding_backward and "
               "adam_update pass, and compare the model's gradients with numerical_gradient as in section 5.")
    return key, message


#: Comparisons of given code, by name (the public data names one per exercise that needs it).
COMPARISONS = {"reversal_outcome": reversal_outcome, "induction_outcome": induction_outcome}
