"""Exercises of notebook memory_efficient_attention (to be written)."""

EXERCISES = []
