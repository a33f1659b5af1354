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
- copy-torch.pt: the same weights as a PyTorch zip checkpoint laid out as torch.save writes
  one (protocol-2 pickle of an OrderedDict of torch._utils._rebuild_tensor_v2 calls on
  persistent-id storages, stored zip members), pickled by Python's own pickle module with
  stand-ins for torch's names (torch itself is not installed); the down projection saved as
  a transposed view (strides (1, rows));
- copy.onnx: the same weights as F16 initializers of an ONNX graph (onnx.numpy_helper),
  when the `onnx` package is installed;
- blocks-<TYPE>.gguf and blocks-<TYPE>.npy for every block type modelward decodes: one
  8 x 512 tensor of random blocks (scales set to sane values) and its values as
  gguf.quants.dequantize gives them, to check the block layouts element for element.

Run by `cargo test -p modelward-fingerprint` (module `python`) when target/fp-venv exists:
    python3 -m venv target/fp-venv && target/fp-venv/bin/pip install gguf safetensors numpy onnx
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


def write_torch_like(path, tensors):
    """A torch.save-shaped checkpoint without torch: the names pickle refers to are stand-ins
    registered under torch's module names, so the pickle says what torch's would."""
    import collections
    import pickle
    import types
    import zipfile

    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = FloatStorage.__name__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = _rebuild_tensor_v2.__name__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    class Storage:
        def __init__(self, key, data):
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage, size, stride):
            self.storage, self.size, self.stride = storage, size, stride

        def __reduce_ex__(self, protocol):
            return (_rebuild_tensor_v2,
                    (self.storage, 0, self.size, self.stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.data.size)
            return None

    state = collections.OrderedDict()
    storages = []
    for i, (hf, _, v) in enumerate(tensors):
        if hf.endswith("down_proj.weight"):
            data = np.ascontiguousarray(v.T)
            stride = (1, v.shape[0])
        else:
            data = np.ascontiguousarray(v)
            stride = tuple(int(np.prod(v.shape[k + 1:])) for k in range(v.ndim))
        storage = Storage(str(i), data)
        storages.append(storage)
        state[hf] = Tensor(storage, tuple(v.shape), stride)
    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    for k, m in saved.items():
        if m is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = m
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for s in storages:
            z.writestr(f"archive/data/{s.key}", s.data.astype("<f4").tobytes())
        z.writestr("archive/version", "3\n")


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
    write_torch_like(os.path.join(outdir, "copy-torch.pt"), ours)
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        onnx = None
    if onnx is not None:
        inits = [numpy_helper.from_array(v.astype(np.float16), name=hf) for hf, _, v in ours]
        graph = helper.make_graph([], "weights", [], [], initializer=inits)
        onnx.save(helper.make_model(graph), os.path.join(outdir, "copy.onnx"))
    for qtype in SCALES:
        write_blocks(outdir, qtype)
    print("written", outdir)


if __name__ == "__main__":
    main()
