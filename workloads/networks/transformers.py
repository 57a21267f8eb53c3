"""Transformer presets with their published shapes: every product the PE array performs, the
weight projections as `gemm` layers (tokens x in -> out) and attention's score and context
products as `matmul` layers of two activations, and the vector unit's layers of each block
(workloads/vector_ops.py): softmax, layer or RMS normalization, GELU or SiLU and the SwiGLU
product, residual adds. The score matrix is computed in full (a causal mask skips no work).
Left out: embedding lookups (and BERT's embedding sums and normalization, ViT's class token
and position embedding), the attention mask's addition and Llama's rotary embedding.

Grouped-query attention (Llama) stacks the query heads that share a key/value head as rows of
one product, so each K and V head is one operand, moved once per product: 8 products of
(4·tokens x 64) by (64 x keys) instead of 32 of (tokens x 64) by (64 x keys), the same MACs.
"""

from __future__ import annotations

from ..layer import Layer, conv, matmul, vector


def _projection(name: str, tokens: int, d_in: int, d_out: int) -> Layer:
    """A weight projection of every token: tokens x d_in by d_in x d_out."""
    return Layer(name=name, kind="linear" if tokens == 1 else "gemm", P=tokens, C=d_in,
                 K=d_out, Q=1, H=tokens, W=1)


def _attention(prefix: str, queries: int, keys: int, heads: int, kv_heads: int,
               head_dim: int) -> list[Layer]:
    """Scores Q·Kᵀ and context A·V of one layer, one product per key/value head."""
    rows = queries * heads // kv_heads
    return [matmul(f"{prefix}.scores", rows, head_dim, keys, N=kv_heads),
            vector(f"{prefix}.softmax", "softmax", C=keys, H=queries * heads),
            matmul(f"{prefix}.context", rows, keys, head_dim, N=kv_heads)]


def _encoder(prefix: str, tokens: int, width: int, heads: int, mlp: int,
             vit: bool) -> list[Layer]:
    """One encoder layer: ViT's pre-norm (torchvision: ln_1, one fused in_proj of 3 x width,
    ln_2, mlp.0, mlp.3) or BERT's post-norm (Hugging Face: query, key, value, output.dense,
    LayerNorms after the residual adds, intermediate.dense, output.dense)."""
    def norm(name):
        return vector(name, "layernorm", C=width, H=tokens)

    def residual(name):
        return vector(name, "add_tensors", C=width, H=tokens)

    if vit:
        layers = [norm(f"{prefix}.ln_1"),
                  _projection(f"{prefix}.self_attention.in_proj", tokens, width, 3 * width)]
        out, ffn = f"{prefix}.self_attention.out_proj", (f"{prefix}.mlp.0", f"{prefix}.mlp.3")
    else:
        layers = [_projection(f"{prefix}.attention.self.{p}", tokens, width, width)
                  for p in ("query", "key", "value")]
        out, ffn = f"{prefix}.attention.output.dense", (f"{prefix}.intermediate.dense",
                                                         f"{prefix}.output.dense")
    layers += _attention(f"{prefix}.attention", tokens, tokens, heads, heads, width // heads)
    layers += [_projection(out, tokens, width, width), residual(f"{prefix}.attention.residual")]
    layers += [norm(f"{prefix}.ln_2")] if vit else [norm(f"{prefix}.attention.output.LayerNorm")]
    layers += [_projection(ffn[0], tokens, width, mlp),
               vector(f"{prefix}.gelu", "gelu", C=mlp, H=tokens),
               _projection(ffn[1], tokens, mlp, width), residual(f"{prefix}.mlp.residual")]
    return layers if vit else layers + [norm(f"{prefix}.output.LayerNorm")]


def bert_base() -> list[Layer]:
    """BERT-base (Devlin et al. 2019) on 128 tokens: 12 layers of width 768, 12 heads, FFN
    3072, and the pooler's dense layer on the [CLS] token."""
    layers = []
    for i in range(12):
        layers += _encoder(f"encoder.layer.{i}", 128, 768, 12, 3072, vit=False)
    return layers + [_projection("pooler.dense", 1, 768, 768),
                     vector("pooler.activation", "tanh", C=768, H=1)]


def vit_b16() -> list[Layer]:
    """ViT-B/16 (Dosovitskiy et al. 2021, torchvision vit_b_16) at 224x224: a 16x16 stride-16
    patch embedding (14x14 patches + the class token = 197 tokens), 12 layers of width 768, 12
    heads, MLP 3072, and the 1000-class head on the class token."""
    layers = [conv("conv_proj", 3, 768, 224, R=16, stride=16, padding=0)]
    for i in range(12):
        layers += _encoder(f"encoder.layers.encoder_layer_{i}", 197, 768, 12, 3072, vit=True)
    return layers + [vector("encoder.ln", "layernorm", C=768, H=197),
                     _projection("heads.head", 1, 768, 1000)]


LLAMA32_1B = dict(layers=16, width=2048, heads=32, kv_heads=8, head_dim=64, mlp=8192,
                  vocab=128256)


def _llama(tokens: int, keys: int) -> list[Layer]:
    """Llama 3.2 1B (Meta 2024, config.json): `tokens` new tokens attending to `keys`
    positions; RMS norms before attention and MLP, q/k/v/o projections (GQA: k and v 8 heads
    x 64), SwiGLU MLP (gate, up, SiLU(gate)·up, down), residual adds, and the final norm and
    tied LM head for the last token only (the logits generation reads)."""
    c = LLAMA32_1B
    width, kv, mlp = c["width"], c["kv_heads"] * c["head_dim"], c["mlp"]
    layers = []
    for i in range(c["layers"]):
        p = f"model.layers.{i}"
        layers += [vector(f"{p}.input_layernorm", "rmsnorm", C=width, H=tokens),
                   _projection(f"{p}.self_attn.q_proj", tokens, width, width),
                   _projection(f"{p}.self_attn.k_proj", tokens, width, kv),
                   _projection(f"{p}.self_attn.v_proj", tokens, width, kv)]
        layers += _attention(f"{p}.self_attn", tokens, keys, c["heads"], c["kv_heads"],
                             c["head_dim"])
        layers += [_projection(f"{p}.self_attn.o_proj", tokens, width, width),
                   vector(f"{p}.self_attn.residual", "add_tensors", C=width, H=tokens),
                   vector(f"{p}.post_attention_layernorm", "rmsnorm", C=width, H=tokens),
                   _projection(f"{p}.mlp.gate_proj", tokens, width, mlp),
                   vector(f"{p}.mlp.act_fn", "silu", C=mlp, H=tokens),
                   _projection(f"{p}.mlp.up_proj", tokens, width, mlp),
                   vector(f"{p}.mlp.gate_up", "mul_tensors", C=mlp, H=tokens),
                   _projection(f"{p}.mlp.down_proj", tokens, mlp, width),
                   vector(f"{p}.mlp.residual", "add_tensors", C=width, H=tokens)]
    return layers + [vector("model.norm", "rmsnorm", C=width, H=1),
                     _projection("lm_head", 1, width, c["vocab"])]


def llama32_1b_prefill() -> list[Layer]:
    """Llama 3.2 1B prefill of a 512-token prompt (the full 512 x 512 score matrix)."""
    return _llama(512, 512)


def llama32_1b_decode() -> list[Layer]:
    """Llama 3.2 1B decoding one token against a KV cache of 512 earlier tokens: the new token
    attends to 513 positions (the cache and itself)."""
    return _llama(1, 513)


TRANSFORMERS = {"bert_base": bert_base, "vit_b16": vit_b16,
                "llama32_1b_prefill": llama32_1b_prefill, "llama32_1b_decode": llama32_1b_decode}
