"""The transformer presets' MAC totals against formulas written here from each model's
published configuration, and their layers' kinds."""

import pytest

from dlaforge.workloads.networks import load_network


def encoder_macs(tokens, width, mlp):
    """One encoder layer: q, k, v and output projections, scores and context over all
    heads (heads x head_dim = width), and the two MLP layers."""
    return 4 * tokens * width * width + 2 * tokens * tokens * width + 2 * tokens * width * mlp


def llama_macs(tokens, keys):
    """Llama 3.2 1B (hidden 2048, 16 layers, 32 query heads and 8 key/value heads of 64,
    intermediate 8192, vocabulary 128256, tied embeddings) for `tokens` new tokens over
    `keys` positions, logits for the last token."""
    width, kv, mlp = 2048, 8 * 64, 8192
    per_layer = (tokens * width * (2 * width + 2 * kv) + 3 * tokens * width * mlp
                 + 2 * 32 * tokens * keys * 64)
    return 16 * per_layer + width * 128256


EXPECTED = {
    "bert_base": 12 * encoder_macs(128, 768, 3072) + 768 * 768,
    "vit_b16": 768 * 3 * 16 * 16 * 14 * 14 + 12 * encoder_macs(197, 768, 3072) + 768 * 1000,
    "llama32_1b_prefill": llama_macs(512, 512),
    "llama32_1b_decode": llama_macs(1, 513),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transformer_mac_totals(name):
    assert load_network(name).macs == EXPECTED[name]


def test_published_figures():
    # torchvision's ViT_B_16 weights: 17.56 GFLOPS (multiply-adds) at 224x224
    assert round(load_network("vit_b16").macs / 1e9, 2) == 17.56
    # Llama 3.2 1B has 1,235,814,400 parameters: decoding one token multiplies each weight
    # once, except the token embedding (a lookup; tied, it is the LM head, counted) and the
    # 33 RMSNorm weight vectors (elementwise)
    decode = load_network("llama32_1b_decode")
    weights = sum(l.macs for l in decode.layers if l.kind != "matmul")
    assert weights == 1_235_814_400 - 33 * 2048


def test_attention_products_are_activation_matmuls_with_grouped_query_heads():
    layers = {l.name: l for l in load_network("llama32_1b_decode").layers}
    scores = layers["model.layers.0.self_attn.scores"]
    assert (scores.kind, scores.N, scores.P, scores.C, scores.K) == ("matmul", 8, 4, 64, 513)
    assert layers["model.layers.0.mlp.gate_proj"].kind == "linear"
    bert = {l.name: l for l in load_network("bert_base").layers}
    context = bert["encoder.layer.0.attention.context"]
    assert (context.kind, context.N, context.P, context.C, context.K) == ("matmul", 12, 128,
                                                                         128, 64)


def test_each_block_has_its_vector_layers():
    from dlaforge.workloads.vector_ops import vector_work
    bert = {l.name: l for l in load_network("bert_base").layers}
    ops = [bert[f"encoder.layer.0.{n}"].op for n in (
        "attention.softmax", "attention.residual", "attention.output.LayerNorm", "gelu",
        "mlp.residual", "output.LayerNorm")]
    assert ops == ["softmax", "add_tensors", "layernorm", "gelu", "add_tensors", "layernorm"]
    softmax = vector_work(bert["encoder.layer.0.attention.softmax"], 8)
    assert softmax.ops["exp"] == 12 * 128 * 128           # heads x queries x keys
    assert vector_work(bert["encoder.layer.0.gelu"], 8).ops["exp"] == 128 * 3072
    llama = [l for l in load_network("llama32_1b_decode").layers if l.kind == "vector"]
    assert [l.op for l in llama[:7]] == ["rmsnorm", "softmax", "add_tensors", "rmsnorm", "silu",
                                         "mul_tensors", "add_tensors"]
    assert (llama[1].C, llama[1].H) == (513, 32)          # 32 query heads over 513 positions
    vit = [l.op for l in load_network("vit_b16").layers if l.kind == "vector"]
    assert vit[:6] == ["layernorm", "softmax", "add_tensors", "layernorm", "gelu", "add_tensors"]


def test_a_transformer_runs_on_a_preset_with_its_vector_unit():
    import dlaforge
    record = dlaforge.simulate("tpu_like", "bert_base")
    layers = {l.name: l.stats for l in record.layers}
    softmax = layers["encoder.layer.0.attention.softmax"]
    assert softmax.macs == 0 and softmax.cycles > 0 and softmax.energy_breakdown_pj["units"] > 0
    assert record.totals.macs == EXPECTED["bert_base"]
