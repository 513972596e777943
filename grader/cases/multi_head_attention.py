"""Cases of notebook multi_head_attention (to be written)."""

MAKERS = {}
