#!/usr/bin/env python3
"""Regenerates the README figures that come from running encore on the example model.

  python3 tools/readme_figures.py [--rounds N] [--check] [--only NAME]

Runs, on this machine, what the README quotes and rewrites each block of README.md between
`<!-- figures:NAME -->` and `<!-- /figures -->`:
  quickstart   tools/quickstart.sh's words and accuracies (encore-convert, encore-run --text)
  ablation     encore-analyze's table on the 5,400 held-out words (tools/analyze/example.sh)
  python       the "From Python" example, run as written (Debian's python3, the build's module)
  pruning      encore-convert's automatic pruning within 0.5 and 2 points, and encore-bench's
               alternating rounds on the pruned and unpruned models (tools/analyze/example.sh)
  coref        the coreference model's accuracies and per-head table: the attention probe from
               "it", each head masked, one head kept in the whole model, each FFN bypassed
               (tools/analyze/coref.sh); without --check also the screenshots
               tools/analyze/coref-attention.png and coref-report.png
The accuracies are deterministic; the speed ratios are measurements and move a little from run
to run (and with the machine: the block says which CPU). --check regenerates everything but the
timings and fails if the README differs (accuracy figures only). Needs only the build (cmake)
and the standard library; takes a few minutes.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The build to use, as tools/analyze/example.sh picks it: ENCORE_PRESET, else ci under CI=true, else release.
PRESET = os.environ.get("ENCORE_PRESET") or ("ci" if os.environ.get("CI") == "true" else "release")
BIN = os.path.join(ROOT, "build", PRESET, "tools")
EXAMPLE = os.path.join(ROOT, "tools", "train", "langid")
OUT = os.path.join(ROOT, "build", "readme-figures")


def run(cmd, **kw):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"readme_figures: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr.strip()}")
    return r.stdout


def cpu_name():
    for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
            flags = open("/proc/cpuinfo").read()
            vnni = "AVX-512 VNNI" if "avx512_vnni" in flags else ("AVX-VNNI" if "avx_vnni" in flags else "no VNNI")
            return f"{name}, {vnni}"
    return "unknown CPU"


def quickstart():
    """The words and accuracies tools/quickstart.sh prints, top two probabilities per word."""
    os.makedirs(OUT, exist_ok=True)
    models = {}
    for q, extra in (("int8", ["--calib", os.path.join(EXAMPLE, "calib_ids.npy")]), ("f32", ["--quant", "f32"])):
        models[q] = os.path.join(OUT, f"langid.{q}.encore")
        run([os.path.join(BIN, "convert", "encore-convert"), EXAMPLE, "-o", models[q]] + extra)
    lines = []
    words = ["Schmetterling", "mariposa", "fjäril"]
    out = run([os.path.join(BIN, "run", "encore-run"), models["int8"]] + sum((["--text", w] for w in words), []))
    for line in out.splitlines():
        j = json.loads(line)
        top = sorted(j["probabilities"].items(), key=lambda kv: -kv[1])[:2]
        probs = ",".join(f'"{k}":{v:.4f}' for k, v in top)
        lines.append(f'{{"text":"{j["text"]}","label":"{j["label"]}","probabilities":{{{probs},...}}}}')
    test = [l.rstrip("\n").split("\t") for l in open(os.path.join(EXAMPLE, "test.tsv"), encoding="utf-8") if l.strip()]
    texts = os.path.join(OUT, "test_words.txt")
    with open(texts, "w", encoding="utf-8") as f:
        f.write("".join(t[0] + "\n" for t in test))
    acc = {}
    for q in ("f32", "int8"):
        out = run([os.path.join(BIN, "run", "encore-run"), models[q], "--text-file", texts, "--batch-size", "64"])
        labels = [json.loads(l)["label"] for l in out.splitlines()]
        ok = sum(1 for t, p in zip(test, labels) if t[1] == p)
        acc[q] = (ok, len(test))
        lines.append(f"== {q} model: test accuracy {100 * ok / len(test):.2f}% ({ok} of {len(test)} words)")
    gap = abs(acc["f32"][0] - acc["int8"][0]) / acc["f32"][1] * 100
    return "```\n" + "\n".join(lines) + "\n```\n", gap


def python_example(readme):
    """The README's Python example (the python block before the figures:python marker), run from
    a directory where its relative paths reach the repository's tools/."""
    m = re.search(r"```python\n(.*?)```\n(?:(?!```).)*?<!-- figures:python -->", readme, re.S)
    if not m:
        sys.exit("readme_figures: README.md has no python block before <!-- figures:python -->")
    work = os.path.join(OUT, "python")
    os.makedirs(work, exist_ok=True)
    link = os.path.join(work, "tools")
    if not os.path.islink(link):
        os.symlink(os.path.join(ROOT, "tools"), link)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", PRESET, "python"))
    r = subprocess.run(["/usr/bin/python3", "-c", m.group(1)], cwd=work, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"readme_figures: the README's Python example failed ({r.returncode}):\n{r.stderr.strip()}")
    return "```\n" + r.stdout + "```\n"


def example(drop, rounds):
    run(["bash", "tools/analyze/example.sh", str(drop), str(rounds)])
    d = os.path.join(ROOT, "build", "analyze-example")
    return (open(os.path.join(d, "analysis.txt")).read(), open(os.path.join(d, f"prune-{drop}.txt")).read(),
            open(os.path.join(d, f"bench-summary-{drop}.txt")).read())


def ablation_table(analysis):
    rows = {}
    for line in analysis.splitlines():
        m = re.match(r"(layer \d+ (?:head \d+ masked|FFN bypassed|only head \d+ kept))\s+\S+%\s+(\S+)", line)
        if m:
            rows[m.group(1)] = float(m.group(2))
    base = re.search(r"accuracy (\S+)% \((\d+) of (\d+)\)", analysis)
    def heads(layer):
        return " / ".join(f"{rows[f'layer {layer} head {h} masked']:+.2f}".replace("+", "") for h in range(4))
    kept = {l: next(k for k in rows if k.startswith(f"layer {l} only")) for l in (0, 1)}
    kept_head = {l: re.search(r"head (\d+)", kept[l]).group(1) for l in (0, 1)}
    table = [
        f"On the example model (`tools/analyze/example.sh`; {int(base.group(3)):,} held-out words, int8 baseline "
        f"{base.group(1)}%):",
        "",
        "| switched off | accuracy change (points) |",
        "|---|---|",
        f"| layer 0 head 0 / 1 / 2 / 3 | {heads(0)} |",
        f"| layer 1 head 0 / 1 / 2 / 3 | {heads(1)} |",
        f"| layer 0 / layer 1 FFN (residual kept) | {rows['layer 0 FFN bypassed']:.2f} / {rows['layer 1 FFN bypassed']:.2f} |",
        f"| all heads but the most important: layer 0 (keeps head {kept_head[0]}) / layer 1 (keeps head {kept_head[1]}) "
        f"| {rows[kept[0]]:.2f} / {rows[kept[1]]:.2f} |",
    ]
    return "\n".join(table) + "\n"


def pruning_sentence(prune, bench, drop):
    held = re.search(r"held-out\s+accuracy (\S+)% -> (\S+)% \((\S+) points\)", prune)
    heads = re.search(r"heads: .*: (\d+) of (\d+) removed", prune)
    layers = re.findall(r"layer (\d+): heads ([\d, ]+) \((\d+) of (\d+)\); FFN (\d+) of (\d+) neurons", prune)
    speed = re.findall(r"seq +(\d+): .*: ([\d.]+)x as fast", bench)
    kept = "; ".join(f"layer {l}: {k} of {n} heads, FFN {f} of {fn}" for l, _, k, n, f, fn in layers)
    speeds = " / ".join(f"{x}x at {s} tokens" for s, x in speed)
    return (f"Within {drop} points it removed {heads.group(1)} of {heads.group(2)} heads and kept {kept}: held-out accuracy "
            f"{held.group(1)}% -> {held.group(2)}% ({held.group(3)} points), {speeds} as fast")


def coref(screenshots):
    """The figures of "Why several heads?" from tools/analyze/coref.sh's outputs: held-out
    sentences (test) and sentences of the training frames and nouns (val)."""
    run(["bash", "tools/analyze/coref.sh"])
    d = os.path.join(ROOT, "build", "analyze-coref")
    acc = {}
    for line in open(os.path.join(d, "accuracy.txt")):
        name, q, pct, _ = line.split(" ", 3)
        acc[(name, q)] = pct
    runs = {}
    for name, f in (("test", "analysis.json"), ("val", "analysis-val.json")):
        j = json.load(open(os.path.join(d, f)))
        runs[name] = dict(
            j=j, probe={(h["layer"], h["head"]): h for h in j["attention_probe"]["heads"]},
            masked={(h["layer"], h["head"]): h for h in j["heads"]},
            single={(h["layer"], h["head"]): h for h in j["single_head"]})
    # Float accuracy per held-out frame and label: the frame is the text with its nouns and
    # adjective replaced (every held-out frame is "The X ... the Y because|since it was too ADJ").
    frames = {}
    test = [l.rstrip("\n").split("\t") for l in open(os.path.join(ROOT, "tools", "train", "coref", "test.tsv"))]
    predicted = open(os.path.join(d, "predicted-test-f32.txt")).read().split()
    for (text, label), p in zip(test, predicted):
        frame = re.sub(r"too \w+$", "too ADJ", re.sub(r"the \w+ (because|since)", r"the Y \1",
                                                         re.sub(r"^The \w+ ", "The X ", text)))
        ok, n = frames.get((frame, label), (0, 0))
        frames[(frame, label)] = (ok + (p == label), n + 1)
    per_frame = "; ".join(
        f"\"{f}\" {100 * frames[(f, 'first')][0] / frames[(f, 'first')][1]:.0f}% / "
        f"{100 * frames[(f, 'second')][0] / frames[(f, 'second')][1]:.0f}%"
        for f in sorted({f for f, _ in frames}))
    t, v = runs["test"], runs["val"]
    bt, bv = t["j"]["baseline"], v["j"]["baseline"]
    lines = [
        f"`tools/analyze/coref.sh` on `tools/train/coref`. Held-out: {bt['count']:,} sentences of 7 frames and 25 nouns "
        f"never seen in training: float {acc[('test', 'f32')]}, int8 {acc[('test', 'int8')]}; with held-out adjectives "
        f"as well: float {acc[('test_unseen_adj', 'f32')]}, int8 {acc[('test_unseen_adj', 'int8')]} (chance: 50%). "
        f"One factor at a time (float): held-out nouns in training frames {acc[('test_new_nouns', 'f32')]}, "
        f"held-out frames with training nouns {acc[('test_new_frames', 'f32')]}. "
        f"Seen: {bv['count']:,} new sentences of the training frames and nouns: float {acc[('val', 'f32')]}, "
        f"int8 {acc[('val', 'int8')]}. "
        f"Per head of the int8 model, held-out / seen:",
        "",
        "| layer | head | attention from \"it\": to its referent / to the other noun (held-out) | referent gets more "
        "| accuracy change, head masked (points) | accuracy, only this head in the whole model |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(t["probe"]):
        pt, pv = t["probe"][key], v["probe"][key]
        lines.append(f"| {key[0]} | {key[1]} | {pt['to_target']:.3f} / {pt['to_contrast']:.3f} | "
                     f"{100 * pt['target_share']:.1f}% / {100 * pv['target_share']:.1f}% | "
                     f"{t['masked'][key]['accuracy_change_points']:+.2f} / {v['masked'][key]['accuracy_change_points']:+.2f} | "
                     f"{100 * t['single'][key]['result']['accuracy']:.1f}% / {100 * v['single'][key]['result']['accuracy']:.1f}% |")
    def per_layer(name, key):
        return ", ".join(f"{a['accuracy_change_points']:+.2f}" for a in runs[name]["j"][key])
    def kept(name):
        return ", ".join(str(b["head"]) for b in runs[name]["j"]["best_head_only"])
    lines += [
        f"| 0, 1, 2, 3 | FFN bypassed | | | held-out {per_layer('test', 'ffn_bypassed')}; "
        f"seen {per_layer('val', 'ffn_bypassed')} | |",
        f"| 0, 1, 2, 3 | only the layer's most important head (held-out: {kept('test')}; seen: {kept('val')}) | | | "
        f"held-out {per_layer('test', 'best_head_only')}; seen {per_layer('val', 'best_head_only')} | |",
    ]
    lines += ["", f"Float accuracy per held-out frame, on sentences whose answer is the first / the second noun: "
              f"{per_frame}."]
    if screenshots:
        for page, name in (("attention", "coref-attention.png"), ("analysis", "coref-report.png")):
            png = os.path.join(d, page + ".png")
            if os.path.exists(png):
                shutil.copyfile(png, os.path.join(ROOT, "tools", "analyze", name))
    return "\n".join(lines) + "\n"


def replace_block(text, name, body):
    pattern = re.compile(r"(<!-- figures:" + name + r" -->\n)(.*?)(<!-- /figures -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"readme_figures: README.md has no <!-- figures:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(3), text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9, help="alternating encore-bench rounds per pruned model")
    ap.add_argument("--check", action="store_true", help="fail if the accuracy figures in README.md differ")
    ap.add_argument("--only", choices=["quickstart", "ablation", "python", "pruning", "coref"],
                    help="regenerate (or check) this block only")
    args = ap.parse_args()
    run(["cmake", "--preset", PRESET])
    run(["cmake", "--build", "--preset", PRESET, "--target", "encore-convert", "encore-run", "encore-analyze",
         "encore-inspect", "encore-bench", "encore_python"])
    readme_path = os.path.join(ROOT, "README.md")
    readme = open(readme_path, encoding="utf-8").read()
    want = lambda name: args.only in (None, name)  # noqa: E731
    new = readme
    if want("quickstart"):
        block, gap = quickstart()
        new = replace_block(new, "quickstart", block)
        new = re.sub(r"int8 keeps the float model's accuracy \([\d.]+ points apart\)",
                     f"int8 keeps the float model's accuracy ({gap:.2f} points apart)", new)
    if want("ablation") or (want("pruning") and not args.check):
        analysis, prune05, bench05 = example(0.5, 1 if args.check else args.rounds)
        new = replace_block(new, "ablation", ablation_table(analysis))
    if want("python"):
        new = replace_block(new, "python", python_example(new))
    if want("coref"):
        new = replace_block(new, "coref", coref(not args.check))
    if want("pruning") and not args.check:
        _, prune2, bench2 = example(2, args.rounds)
        body = (pruning_sentence(prune05, bench05, 0.5) + ". " + pruning_sentence(prune2, bench2, 2) +
                f". (encore-bench, {args.rounds} alternating rounds, 1 thread, on {cpu_name()}.)\n")
        new = replace_block(new, "pruning", body)
    if args.check:
        strip = lambda t: re.sub(r"<!-- figures:pruning -->.*?<!-- /figures -->", "", t, flags=re.S)
        if strip(new) != strip(readme):
            sys.exit("readme_figures: README.md's figures differ from what the code prints now; run "
                     "python3 tools/readme_figures.py")
        print("readme_figures: README.md's accuracy figures match")
        return
    with open(readme_path, "w", encoding="utf-8") as f:
        f.write(new)
    print("readme_figures: README.md updated")


if __name__ == "__main__":
    main()
