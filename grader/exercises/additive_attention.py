"""Exercises of notebook additive_attention (to be written)."""

EXERCISES = []
