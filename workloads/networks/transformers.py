"""Transformer presets with their published shapes: every product the PE array performs, the
weight projections as `gemm` layers (tokens x in -> out) and attention's score and context
products as `matmul` layers of two activations. The score matrix is computed in full (a causal
mask skips no work). As in the CNN presets, what is not PE-array work (embedding lookups,
softmax, normalization, activations, residual adds, rotary embeddings) is left out.

Grouped-query attention (Llama) stacks the query heads that share a key/value head as rows of
one product, so each K and V head is one operand, moved once per product: 8 products of
(4·tokens x 64) by (64 x keys) instead of 32 of (tokens x 64) by (64 x keys), the same MACs.
"""

from __future__ import annotations

from ..layer import Layer, conv, matmul


def _projection(name: str, tokens: int, d_in: int, d_out: int) -> Layer:
    """A weight projection of every token: tokens x d_in by d_in x d_out."""
    return Layer(name=name, kind="linear" if tokens == 1 else "gemm", P=tokens, C=d_in,
                 K=d_out, Q=1, H=tokens, W=1)


def _attention(prefix: str, queries: int, keys: int, heads: int, kv_heads: int,
               head_dim: int) -> list[Layer]:
    """Scores Q·Kᵀ and context A·V of one layer, one product per key/value head."""
    rows = queries * heads // kv_heads
    return [matmul(f"{prefix}.scores", rows, head_dim, keys, N=kv_heads),
            matmul(f"{prefix}.context", rows, keys, head_dim, N=kv_heads)]


def _encoder(prefix: str, tokens: int, width: int, heads: int, mlp: int,
             fused_qkv: bool) -> list[Layer]:
    if fused_qkv:     # torchvision's nn.MultiheadAttention: one in_proj of 3 x width
        layers = [_projection(f"{prefix}.self_attention.in_proj", tokens, width, 3 * width)]
        out, ffn = f"{prefix}.self_attention.out_proj", (f"{prefix}.mlp.0", f"{prefix}.mlp.3")
    else:             # Hugging Face's BertSelfAttention: query, key, value
        layers = [_projection(f"{prefix}.attention.self.{p}", tokens, width, width)
                  for p in ("query", "key", "value")]
        out, ffn = f"{prefix}.attention.output.dense", (f"{prefix}.intermediate.dense",
                                                         f"{prefix}.output.dense")
    layers += _attention(f"{prefix}.attention", tokens, tokens, heads, heads, width // heads)
    layers += [_projection(out, tokens, width, width),
               _projection(ffn[0], tokens, width, mlp), _projection(ffn[1], tokens, mlp, width)]
    return layers


def bert_base() -> list[Layer]:
    """BERT-base (Devlin et al. 2019) on 128 tokens: 12 layers of width 768, 12 heads, FFN
    3072, and the pooler's dense layer on the [CLS] token."""
    layers = []
    for i in range(12):
        layers += _encoder(f"encoder.layer.{i}", 128, 768, 12, 3072, fused_qkv=False)
    return layers + [_projection("pooler.dense", 1, 768, 768)]


def vit_b16() -> list[Layer]:
    """ViT-B/16 (Dosovitskiy et al. 2021, torchvision vit_b_16) at 224x224: a 16x16 stride-16
    patch embedding (14x14 patches + the class token = 197 tokens), 12 layers of width 768, 12
    heads, MLP 3072, and the 1000-class head on the class token."""
    layers = [conv("conv_proj", 3, 768, 224, R=16, stride=16, padding=0)]
    for i in range(12):
        layers += _encoder(f"encoder.layers.encoder_layer_{i}", 197, 768, 12, 3072,
                           fused_qkv=True)
    return layers + [_projection("heads.head", 1, 768, 1000)]


LLAMA32_1B = dict(layers=16, width=2048, heads=32, kv_heads=8, head_dim=64, mlp=8192,
                  vocab=128256)


def _llama(tokens: int, keys: int) -> list[Layer]:
    """Llama 3.2 1B (Meta 2024, config.json): `tokens` new tokens attending to `keys`
    positions; q/k/v/o projections (GQA: k and v 8 heads x 64), SwiGLU MLP (gate, up, down),
    and the tied LM head for the last token only (the logits generation reads)."""
    c = LLAMA32_1B
    width, kv = c["width"], c["kv_heads"] * c["head_dim"]
    layers = []
    for i in range(c["layers"]):
        p = f"model.layers.{i}"
        layers += [_projection(f"{p}.self_attn.q_proj", tokens, width, width),
                   _projection(f"{p}.self_attn.k_proj", tokens, width, kv),
                   _projection(f"{p}.self_attn.v_proj", tokens, width, kv)]
        layers += _attention(f"{p}.self_attn", tokens, keys, c["heads"], c["kv_heads"],
                             c["head_dim"])
        layers += [_projection(f"{p}.self_attn.o_proj", tokens, width, width),
                   _projection(f"{p}.mlp.gate_proj", tokens, width, c["mlp"]),
                   _projection(f"{p}.mlp.up_proj", tokens, width, c["mlp"]),
                   _projection(f"{p}.mlp.down_proj", tokens, c["mlp"], width)]
    return layers + [_projection("lm_head", 1, width, c["vocab"])]


def llama32_1b_prefill() -> list[Layer]:
    """Llama 3.2 1B prefill of a 512-token prompt (the full 512 x 512 score matrix)."""
    return _llama(512, 512)


def llama32_1b_decode() -> list[Layer]:
    """Llama 3.2 1B decoding one token against a KV cache of 512 earlier tokens: the new token
    attends to 513 positions (the cache and itself)."""
    return _llama(1, 513)


TRANSFORMERS = {"bert_base": bert_base, "vit_b16": vit_b16,
                "llama32_1b_prefill": llama32_1b_prefill, "llama32_1b_decode": llama32_1b_decode}
