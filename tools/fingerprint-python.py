#!/usr/bin/env python3
"""Files written by the reference Python packages, for modelward's fingerprint cross-check.

Usage: fingerprint-python.py OUTDIR

Writes into OUTDIR, with the `gguf` (llama.cpp's gguf-py) and `safetensors` packages and
numpy, from weights generated here (a one-layer LLaMA-like model, hidden 256):

- ref.safetensors: the model, F32, Hugging Face names (safetensors.numpy.save_file);
- copy-f16.safetensors: the same weights cast to F16;
- copy-<TYPE>.gguf for F16, BF16, Q8_0, Q5_1, Q5_0, Q4_1, Q4_0: the same weights under
  llama.cpp's tensor names, in reverse order, quantized by gguf.quants.quantize and written
  by gguf.GGUFWriter (which lists dimensions innermost first);
- unrelated-q4_0.gguf: another model of the same shapes (another seed);
- blocks-<TYPE>.gguf and blocks-<TYPE>.npy for every block type modelward decodes: one
  8 x 512 tensor of random blocks (scales set to sane values) and its values as
  gguf.quants.dequantize gives them, to check the block layouts element for element.

Run by `cargo test -p modelward-fingerprint` (module `python`) when target/fp-venv exists:
    python3 -m venv target/fp-venv && target/fp-venv/bin/pip install gguf safetensors numpy
"""

import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants
from safetensors.numpy import save_file

HIDDEN, INTER, VOCAB, HEADS, KV_HEADS = 256, 896, 8000, 4, 2


def model(seed):
    rng = np.random.default_rng(seed)
    kv = HIDDEN // HEADS * KV_HEADS
    shapes = [
        ("model.embed_tokens.weight", "token_embd.weight", (VOCAB, HIDDEN)),
        ("model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", (HIDDEN,)),
        ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", (HIDDEN, HIDDEN)),
        ("model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", (kv, HIDDEN)),
        ("model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight", (kv, HIDDEN)),
        ("model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output.weight", (HIDDEN, HIDDEN)),
        ("model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight", (HIDDEN,)),
        ("model.layers.0.mlp.gate_proj.weight", "blk.0.ffn_gate.weight", (INTER, HIDDEN)),
        ("model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight", (INTER, HIDDEN)),
        ("model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", (HIDDEN, INTER)),
        ("model.norm.weight", "output_norm.weight", (HIDDEN,)),
        ("lm_head.weight", "output.weight", (VOCAB, HIDDEN)),
    ]
    out = []
    for hf, gg, shape in shapes:
        if len(shape) == 1:
            v = 1.0 + 0.02 * rng.standard_normal(shape)
        else:
            v = 0.02 * rng.standard_normal(shape)
        out.append((hf, gg, v.astype(np.float32)))
    return out


def write_gguf(path, tensors, qtype):
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("python-written test model")
    for _, name, v in reversed(tensors):
        if v.ndim == 1:
            w.add_tensor(name, v)
        elif qtype == T.F16:
            w.add_tensor(name, v.astype(np.float16))
        else:
            q = quants.quantize(v, qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# byte offsets of the f16 scale fields in each block type
SCALES = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def write_blocks(outdir, qtype):
    rng = np.random.default_rng(int(qtype))
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows, cols = 8, 512
    n = rows * cols // block
    raw = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for at in SCALES[qtype]:
        d = rng.uniform(0.001, 0.02, size=n).astype(np.float16).view(np.uint8).reshape(n, 2)
        raw[:, at:at + 2] = d
    raw = raw.reshape(rows, cols // block * size)
    values = quants.dequantize(raw, qtype).astype(np.float32).reshape(rows, cols)
    w = gguf.GGUFWriter(os.path.join(outdir, f"blocks-{qtype.name}.gguf"), "llama")
    w.add_tensor("blocks", raw, raw_shape=raw.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np.save(os.path.join(outdir, f"blocks-{qtype.name}.npy"), values)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    ours = model(5)
    save_file({hf: v for hf, _, v in ours}, os.path.join(outdir, "ref.safetensors"))
    save_file({hf: v.astype(np.float16) for hf, _, v in ours},
              os.path.join(outdir, "copy-f16.safetensors"))
    for qtype in [T.F16, T.BF16, T.Q8_0, T.Q5_1, T.Q5_0, T.Q4_1, T.Q4_0]:
        write_gguf(os.path.join(outdir, f"copy-{qtype.name}.gguf"), ours, qtype)
    write_gguf(os.path.join(outdir, "unrelated-q4_0.gguf"), model(6), T.Q4_0)
    for qtype in SCALES:
        write_blocks(outdir, qtype)
    print("written", outdir)


if __name__ == "__main__":
    main()
