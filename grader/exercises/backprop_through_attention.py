"""Exercises of notebook backprop_through_attention (to be written)."""

EXERCISES = []
