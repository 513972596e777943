"""Does every exercise have a check, and every named mistake a buggy implementation that triggers it?"""

from __future__ import annotations

import importlib
from pathlib import Path

from grader import cases
from grader.exercises import all_exercises

HERE = Path(__file__).resolve().parent

#: The course table of DESIGN.md: every exercise function, by notebook.
COURSE = {
    "01_attention_weights": {"softmax", "dot_scores", "attention_weights", "weighted_sum", "attend"},
    "02_scaled_dot_product": {"dot_product_attention", "scaled_dot_product_attention", "causal_mask",
                              "padding_mask"},
    "03_additive_attention": {"additive_scores", "additive_attention"},
    "04_multi_head_attention": {"split_heads", "merge_heads", "multi_head_attention",
                                "sinusoidal_positional_encoding"},
    "05_backprop_through_attention": {"softmax_backward", "scaled_dot_product_attention_backward",
                                      "numerical_gradient"},
    "06_memory_efficient_attention": {"online_softmax", "blockwise_attention"},
}


def _buggy_tables():
    found = {}
    for path in sorted(HERE.glob("test_checks_*.py")):
        module = importlib.import_module(path.stem)
        for name, key, _ in module.BUGGY:
            found.setdefault(name, set()).add(key)
    return found


def test_every_exercise_of_the_course_has_a_check():
    """Does every function of DESIGN.md's course table have cases and a reference, in its notebook?"""
    exercises = all_exercises()
    for notebook, names in COURSE.items():
        for name in names:
            assert name in exercises, f"{notebook}: no exercise {name}"
            assert exercises[name].notebook == notebook
            assert name in cases.names(), f"{notebook}: no cases for {name}"


def test_every_named_mistake_has_a_buggy_implementation_in_the_tests():
    """Is each variant of each exercise triggered by some test's buggy implementation?"""
    tested = _buggy_tables()
    missing = [f"{name}:{v.key}" for name, exercise in all_exercises().items()
               for v in exercise.variants if v.key not in tested.get(name, set())]
    assert not missing, f"named mistakes without a buggy implementation in tests/grader: {missing}"
