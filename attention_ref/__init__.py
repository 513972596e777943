"""Reference NumPy implementations of the attention course's exercises.

Every function follows the course's conventions: batch dimensions first,
``Q (..., n_q, d_k)``, ``K (..., n_k, d_k)``, ``V (..., n_k, d_v)``; boolean
masks broadcastable to ``(..., n_q, n_k)`` with True meaning "may attend"; a
fully masked query gets zero weights and a zero output; float32 stays float32,
float64 stays float64 and integers become float64; inputs are never modified.

Plotting lives in :mod:`attention_ref.plot`, imported separately.
"""

from .additive import additive_attention, additive_scores
from .backward import numerical_gradient, scaled_dot_product_attention_backward
from .blockwise import blockwise_attention, merge_attention_blocks, online_softmax
from .dot_product import dot_product_attention, scaled_dot_product_attention
from .induction import (
    adam_update,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    induction_score,
    induction_targets,
    previous_token_score,
    repeated_random_tokens,
)
from .masks import causal_mask, padding_mask
from .multi_head import (
    init_multi_head_params,
    merge_heads,
    multi_head_attention,
    multi_head_attention_backward,
    split_heads,
)
from .positional import rotary_embedding, sinusoidal_positional_encoding
from .single_query import attend, attention_weights, dot_scores, weighted_sum
from .softmax import softmax, softmax_backward

__all__ = [
    "softmax",
    "softmax_backward",
    "dot_scores",
    "attention_weights",
    "weighted_sum",
    "attend",
    "dot_product_attention",
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "additive_scores",
    "additive_attention",
    "split_heads",
    "merge_heads",
    "init_multi_head_params",
    "multi_head_attention",
    "multi_head_attention_backward",
    "sinusoidal_positional_encoding",
    "rotary_embedding",
    "scaled_dot_product_attention_backward",
    "numerical_gradient",
    "cross_entropy",
    "cross_entropy_backward",
    "embedding_backward",
    "adam_update",
    "previous_token_score",
    "induction_targets",
    "induction_score",
    "repeated_random_tokens",
    "online_softmax",
    "blockwise_attention",
    "merge_attention_blocks",
]
