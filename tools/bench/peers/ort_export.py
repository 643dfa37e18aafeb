#!/usr/bin/python3
"""ONNX models of a Hugging Face encoder directory for the ONNX Runtime peer of compare.sh
(the families torch_peer.py loads: bert, distilbert, roberta, xlm-roberta, camembert, electra).

  /usr/bin/python3 tools/bench/peers/ort_export.py MODEL_DIR OUT_DIR

Writes OUT_DIR/model.fp32.onnx (torch.onnx.export of the same plain-torch encoder the PyTorch
peer runs) and OUT_DIR/model.int8.onnx, the graph ONNX Runtime's own dynamic quantization
would produce: every MatMul with a constant weight becomes DynamicQuantizeLinear (u8
activations, scale and zero point computed per run) + MatMulInteger against symmetric
per-output-channel int8 weights + the float rescale. ONNX Runtime's graph optimizer fuses that
pattern into its DynamicQuantizeMatMul kernel. The quantization tooling of ONNX Runtime is a
Python package that is not reachable here, so the rewrite is done with python3-onnx.

Weight range: on x86 CPUs without VNNI, ONNX Runtime multiplies u8 x s8 with VPMADDUBSW, whose
16-bit pair sums saturate for 8-bit weights (measured here: errors of 5% of the output range on
one layer). Its documentation's remedy is reduce_range, 7-bit weights; that is the default on such
CPUs (--weight-bits auto), 8 bits where the CPU has AVX-512 VNNI / AVX-VNNI or is not x86.
Inputs: input_ids, attention_mask, token_type_ids (int64 [batch, seq]; DistilBERT has no
token_type_ids, as its Hugging Face model has none); output: last_hidden_state (float [batch,
seq, hidden]). RoBERTa-likes count positions from the ids inside the graph, as the model does.
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer  # noqa: E402  (loads the directory the way the PyTorch peer does)


def export_fp32(model_dir, path):
    spec, w = torch_peer.load(model_dir)
    model = torch_peer.encoder(spec, w)
    # Trace ids away from the pad id (RoBERTa-likes: no effect on the graph, the positions are
    # computed in it either way; the sample only has to be a valid input).
    ids = torch.full((1, 8), 5, dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    if not torch_peer.uses_token_types(spec):
        names, args = names[:2], args[:2]
    axes = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names, output_names=["last_hidden_state"],
                          opset_version=17, dynamic_axes={n: axes for n in names + ["last_hidden_state"]})


def cpu_has_vnni():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_vnni", "avx_vnni"))


def default_weight_bits():
    import platform
    if platform.machine() not in ("x86_64", "AMD64", "i686"):
        return 8
    return 8 if cpu_has_vnni() else 7


def quantize_dynamic(src, dst, weight_bits):
    """Rewrites MatMul(x, W) with a 2-D constant W into the dynamic int8 pattern."""
    qmax = float(2 ** (weight_bits - 1) - 1)
    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    # Constant nodes may also carry weights after export; fold them into initializers first.
    for node in list(graph.node):
        if node.op_type == "Constant" and len(node.output) == 1:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None and len(value.dims) == 2:
                t = onnx.TensorProto()
                t.CopyFrom(value)
                t.name = node.output[0]
                graph.initializer.append(t)
                inits[t.name] = t
                graph.node.remove(node)
    nodes, quantized_inputs, count = [], {}, 0
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2 or weight.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).astype(np.float32)  # [K, N]
        scale = np.maximum(np.abs(w).max(axis=0), 1e-30) / qmax
        wq = np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int8)
        base = f"q{count}"
        count += 1
        graph.initializer.extend([numpy_helper.from_array(wq, base + "_W"),
                                  numpy_helper.from_array(scale.astype(np.float32), base + "_Wscale"),
                                  numpy_helper.from_array(np.zeros(w.shape[1], np.int8), base + "_Wzp")])
        x = node.input[0]
        if x not in quantized_inputs:  # one DynamicQuantizeLinear per activation, shared by Q, K, V
            names = (x + "_u8", x + "_scale", x + "_zp")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(names), name=x + "_dql"))
            quantized_inputs[x] = names
        xq, xs, xzp = quantized_inputs[x]
        nodes += [
            helper.make_node("MatMulInteger", [xq, base + "_W", xzp, base + "_Wzp"], [base + "_i32"], name=base + "_mmi"),
            helper.make_node("Cast", [base + "_i32"], [base + "_f32"], to=TensorProto.FLOAT, name=base + "_cast"),
            helper.make_node("Mul", [xs, base + "_Wscale"], [base + "_scale"], name=base + "_scale_mul"),
            helper.make_node("Mul", [base + "_f32", base + "_scale"], [node.output[0]], name=base + "_rescale"),
        ]
    used = {i for n in nodes for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--weight-bits", default="auto", choices=["auto", "7", "8"])
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    fp32 = os.path.join(args.out_dir, "model.fp32.onnx")
    export_fp32(args.model_dir, fp32)
    bits = default_weight_bits() if args.weight_bits == "auto" else int(args.weight_bits)
    n = quantize_dynamic(fp32, os.path.join(args.out_dir, "model.int8.onnx"), bits)
    print(f"ort_export: {n} MatMuls quantized, {bits}-bit per-channel weights", file=sys.stderr)


if __name__ == "__main__":
    main()
