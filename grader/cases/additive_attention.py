"""Cases of notebook additive_attention (to be written)."""

MAKERS = {}
