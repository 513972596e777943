"""Cases of notebook memory_efficient_attention (to be written)."""

MAKERS = {}
