"""Exercises of notebook scaled_dot_product (to be written)."""

EXERCISES = []
