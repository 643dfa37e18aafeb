"""The Python module computes what encore-run computes (the same library, so bit for bit), and
what PyTorch computed for the fixtures (tools/reference), on ids and on text."""

import json
import os
import re

import numpy as np
import pytest

import encore
from conftest import cosine, run_tool


def load(fixture_dir, name):
    return np.load(os.path.join(fixture_dir, name))


def test_model_properties(models, langid_dir):
    m = encore.Model(models("langid"))
    assert m.family == "bert"
    assert m.precision == "int8"
    assert m.head == "pooled"
    assert m.problem_type == "single_label_classification"
    assert len(m.labels) > 1
    config = json.load(open(os.path.join(langid_dir, "config.json")))
    for key in ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size"):
        assert m.config[key] == config[key], key
    assert m.labels == [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    assert m.tokenizer["kind"] == "wordpiece"
    assert m.max_length == min(config["max_position_embeddings"], m.tokenizer["model_max_length"] or 1 << 30)
    assert m.file_size == os.path.getsize(models("langid"))
    assert "calibration" in m.metadata and m.metadata["calibration"]
    assert "encore.Model" in repr(m)
    cpu = encore.describe_cpu()
    assert cpu["cores"] >= 1 and isinstance(cpu["simd"], list) and cpu["summary"]


@pytest.mark.parametrize("name", ["tiny_cls", "tiny_cls.f32"])
def test_run_equals_encore_run_on_ids(models, fixtures_dir, encore_run, tmp_path, name):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    ids = load(fixture, "input_ids.npy")
    mask = load(fixture, "attention_mask.npy")
    types = load(fixture, "token_type_ids.npy")
    session = encore.Model(models(name)).session()
    out = session.run(ids, mask, types)
    for output in ("last_hidden_state", "pooler_output", "logits"):
        path = tmp_path / f"{output}.npy"
        run_tool([encore_run, models(name), "--input-ids", os.path.join(fixture, "input_ids.npy"),
                  "--attention-mask", os.path.join(fixture, "attention_mask.npy"),
                  "--token-type-ids", os.path.join(fixture, "token_type_ids.npy"), "--output", output, "-o", str(path)])
        np.testing.assert_array_equal(out[output], np.load(path), err_msg=output)


def test_run_f32_matches_pytorch(models, fixtures_dir):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    out = encore.Model(models("tiny_cls.f32")).session().run(
        load(fixture, "input_ids.npy"), load(fixture, "attention_mask.npy"), load(fixture, "token_type_ids.npy"))
    logits = load(fixture, "logits.npy")
    scale = np.abs(logits).max()
    assert np.abs(out["logits"] - logits).max() <= 1e-4 * scale
    # Positions after a sequence's last token hold zeros (not computed); compare the real ones.
    mask = load(fixture, "attention_mask.npy").astype(bool)
    hidden = load(fixture, "last_hidden_state.npy")
    assert np.abs(out["last_hidden_state"][mask] - hidden[mask]).max() <= 1e-4 * np.abs(hidden).max()


def test_input_dtypes_and_layouts_agree(models, fixtures_dir):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    ids = load(fixture, "input_ids.npy").astype(np.int32)
    mask = load(fixture, "attention_mask.npy").astype(np.int32)
    session = encore.Model(models("tiny_cls")).session()
    base = session.run(ids, mask)
    variants = [
        (ids.astype(np.int64), mask.astype(np.int64)),
        (ids.astype(np.uint16), mask.astype(bool)),
        (np.asfortranarray(ids), np.asfortranarray(mask)),          # not C-contiguous: copied
        (np.repeat(ids, 2, axis=1)[:, ::2], mask),                   # a strided view
        (ids.tolist(), mask.tolist()),                                # plain lists
    ]
    for i, (v_ids, v_mask) in enumerate(variants):
        out = session.run(v_ids, v_mask)
        for k in base:
            np.testing.assert_array_equal(out[k], base[k], err_msg=f"variant {i} {k}")
    one = session.run(ids[0], mask[0])  # [seq_len] is one sequence
    np.testing.assert_array_equal(one["logits"], base["logits"][:1])


def test_outputs_are_owned_not_views(models, fixtures_dir):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    ids = load(fixture, "input_ids.npy")
    session = encore.Model(models("tiny_cls")).session()
    first = session.run(ids)
    kept = {k: v.copy() for k, v in first.items()}
    session.run(np.flip(ids, axis=0).copy())  # another batch through the same buffers
    for k in first:
        assert first[k].flags.owndata and first[k].flags.writeable
        np.testing.assert_array_equal(first[k], kept[k])


def text_lines(out):
    return [json.loads(line) for line in out.splitlines()]


def test_text_matches_goldens_and_encore_run(models, fixtures_dir, encore_run):
    goldens = json.load(open(os.path.join(fixtures_dir, "text_bert", "text_goldens.json")))
    model = encore.Model(models("text_bert.f32"))
    by_length = {}
    for c in goldens["cases"]:
        if "pair" not in c:
            by_length.setdefault(c.get("max_length", 0), []).append(c)
    assert by_length.get(0) and len(by_length) > 1, "goldens with and without max_length"
    for max_length, cases in by_length.items():
        texts = [c["text"] for c in cases]
        tok = model.tokenize(texts, max_length=max_length)
        for i, c in enumerate(cases):
            n = len(c["ids"])
            assert tok["input_ids"][i, :n].tolist() == c["ids"], c["text"]
            assert tok["attention_mask"][i].sum() == n
            assert tok["tokens"][i] == c["tokens"]
            assert tok["truncated"][i] == bool(max_length)
        results = model.session(max_length=max_length).classify(texts)
        for r, c in zip(results, cases):
            assert r["ids"] == c["ids"]
            golden = np.array(c["logits"])
            assert np.abs(r["logits"] - golden).max() <= 1e-4 * max(1.0, np.abs(golden).max()), c["text"]
            assert r["label"] == goldens["labels"][int(np.argmax(golden))]
            assert abs(r["probabilities"].sum() - 1) < 1e-5
        # encore-run on the same texts: identical logits, ids, tokens and character offsets.
        args = [encore_run, models("text_bert.f32")] + sum((["--text", t] for t in texts), [])
        if max_length:
            args += ["--max-length", str(max_length)]
        for r, j in zip(results, text_lines(run_tool(args).stdout)):
            assert r["ids"] == j["ids"] and r["tokens"] == j["tokens"]
            assert [list(o) for o in r["offsets"]] == j["offsets"]
            assert r["label"] == j["label"]
            np.testing.assert_array_equal(r["logits"], np.array(j["logits"], dtype=np.float32))


def test_text_pairs_and_offsets(models, encore_run):
    model = encore.Model(models("text_roberta"))
    texts, pairs = ["Grüße aus Köln", "a b"], ["naïve café", "c"]
    tok = model.tokenize(texts, pairs)
    out = run_tool([encore_run, models("text_roberta"), "--text", texts[0], "--text-pair", pairs[0],
                    "--text", texts[1], "--text-pair", pairs[1]]).stdout
    for i, j in enumerate(text_lines(out)):
        n = len(j["ids"])
        assert tok["input_ids"][i, :n].tolist() == j["ids"]
        assert [list(o) for o in tok["offsets"][i]] == j["offsets"]
        assert tok["sequence_ids"][i] == j["sequence_ids"]
        # Offsets index the Python str of the segment each token came from.
        for token_seq, (s, e) in zip(tok["sequence_ids"][i], tok["offsets"][i]):
            if token_seq is not None:
                assert e <= len((texts, pairs)[token_seq][i])
    results = model.session().classify(texts, pairs)
    for r, j in zip(results, text_lines(out)):
        np.testing.assert_array_equal(r["logits"], np.array(j["logits"], dtype=np.float32))


def test_encode_and_sentence_encoder(models, fixtures_dir, encore_run):
    fixture = os.path.join(fixtures_dir, "st_minilm")
    model = encore.Model(models("st_minilm.f32"))
    assert model.sentence_dimension is not None
    # On ids: PyTorch's sentence-transformers embedding (tools/reference/sentence_models.py).
    out = model.session().run(load(fixture, "input_ids.npy"), load(fixture, "attention_mask.npy"),
                              load(fixture, "token_type_ids.npy"))
    golden = load(fixture, "sentence_embedding.npy")
    assert np.abs(out["sentence_embedding"] - golden).max() <= 1e-4 * np.abs(golden).max()
    # On text: encode() and SentenceEncoder equal encore-run --text, batch size aside.
    texts = ["A man is eating food.", "  A man rides a horse. ", "Zwei Hunde spielen im Schnee"]
    lines = text_lines(run_tool([encore_run, models("st_minilm.f32")] + sum((["--text", t] for t in texts), [])).stdout)
    expected = np.array([j["embedding"] for j in lines], dtype=np.float32)
    session = model.session()
    np.testing.assert_array_equal(session.encode(texts, batch_size=2), expected)
    encoder = encore.SentenceEncoder(models("st_minilm.f32"))
    e = encoder.encode(texts)
    assert e.dtype == np.float32 and e.shape == (3, model.sentence_dimension)
    np.testing.assert_array_equal(e, expected)
    one = encoder.encode(texts[0])
    assert one.shape == (model.sentence_dimension,)
    np.testing.assert_array_equal(one, expected[0])
    normed = encoder.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(normed, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6, atol=1e-7)
    # Matryoshka: the first dimensions, normalized only when asked (sentence-transformers' order).
    cut = encore.SentenceEncoder(models("st_minilm.f32"), truncate_dim=8)
    np.testing.assert_array_equal(cut.encode(texts), expected[:, :8])
    t = cut.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(t, expected[:, :8] / np.linalg.norm(expected[:, :8], axis=1, keepdims=True),
                               rtol=1e-6, atol=1e-7)
    assert encoder.encode([]).shape == (0, model.sentence_dimension)



def test_sentence_encoder_modernbert(models, fixtures_dir):
    """A ModernBERT sentence-transformers model in modernbert-embed-base's layout (mean pooling,
    Normalize, no prompts stored: the texts carry "search_query: "): the PyTorch golden on ids,
    then SentenceEncoder's prompt and Matryoshka truncation on text."""
    fixture = os.path.join(fixtures_dir, "st_modernbert")
    model = encore.Model(models("st_modernbert.f32"))
    out = model.session().run(load(fixture, "input_ids.npy"), load(fixture, "attention_mask.npy"))
    golden = load(fixture, "sentence_embedding.npy")
    assert np.abs(out["sentence_embedding"] - golden).max() <= 1e-4 * max(1.0, np.abs(golden).max())
    assert model.prompts == {"query": "", "document": ""} and model.default_prompt_name is None
    encoder = encore.SentenceEncoder(models("st_modernbert.f32"))
    queries = ["What is TSNE?", "Who is Laurens van der Maaten?"]
    full = encoder.encode(["search_query: " + q for q in queries])
    assert full.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, rtol=1e-5)  # the model's Normalize
    np.testing.assert_array_equal(encoder.encode(queries, prompt="search_query: "), full)
    np.testing.assert_array_equal(encoder.encode(queries, prompt_name="query"), encoder.encode(queries))
    assert not np.array_equal(encoder.encode(queries), full)
    # Matryoshka (the model card's truncate_dim=256 of 768): the first dimensions, renormalized on request.
    cut = encore.SentenceEncoder(models("st_modernbert.f32"), truncate_dim=16)
    np.testing.assert_array_equal(cut.encode(["search_query: " + q for q in queries]), full[:, :16])
    t = cut.encode(["search_query: " + q for q in queries], normalize_embeddings=True)
    np.testing.assert_allclose(t, full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True),
                               rtol=1e-6, atol=1e-7)

def test_heads_match_pipeline_goldens(models, fixtures_dir):
    """Token classification, question answering and fill-mask as tools/reference/text_heads.py's
    re-implementation of Hugging Face's pipelines gives them."""
    goldens = json.load(open(os.path.join(fixtures_dir, "heads_text", "goldens.json"), encoding="utf-8"))
    session = encore.Model(models("text_heads_token")).session()
    cases = goldens["token"]
    for c, entities in zip(cases, session.classify_tokens([c["text"] for c in cases])):
        assert [(e["entity_group"], e["start"], e["end"]) for e in entities] == \
               [(e["entity_group"], e["start"], e["end"]) for e in c["entities"]], c["text"]
        np.testing.assert_allclose([e["score"] for e in entities], [e["score"] for e in c["entities"]], atol=1e-4)

    session = encore.Model(models("text_heads_qa")).session()
    for c in goldens["qa"]:
        got = session.answer(c["question"], c["context"], top_k=c["top_k"], max_answer_len=c["max_answer_len"],
                             doc_stride=c["doc_stride"], align_to_words=bool(c["align_to_words"]),
                             handle_impossible_answer=bool(c["handle_impossible_answer"]))
        got = [got] if isinstance(got, dict) else got
        assert [(a["start"], a["end"], a["answer"]) for a in got] == \
               [(a["start"], a["end"], a["answer"]) for a in c["answers"]], c["question"]
        np.testing.assert_allclose([a["score"] for a in got], [a["score"] for a in c["answers"]], atol=1e-4)

    session = encore.Model(models("text_heads_mlm")).session()
    for c in goldens["mlm"]:
        got = session.fill_mask(c["text"], top_k=c["top_k"])
        got = [got] if len(c["masks"]) == 1 else got
        for mask, expected in zip(got, c["masks"]):
            assert [p["token"] for p in mask] == [p["token_id"] for p in expected["predictions"]], c["text"]
            np.testing.assert_allclose([p["score"] for p in mask], [p["score"] for p in expected["predictions"]],
                                       atol=1e-4)


def test_example_model_accuracy(models, langid_dir):
    """The example model's test accuracy through Python is the one the README states."""
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(langid_dir, "test.tsv"), encoding="utf-8")
            if line.strip()]
    session = encore.Model(models("langid")).session(threads=2)
    results = session.classify([r[0] for r in rows], batch_size=64)
    correct = sum(1 for r, res in zip(rows, results) if res["label"] == r[1])
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8").read()
    stated = re.search(r"int8 model: test accuracy \S+% \((\d+) of (\d+) words\)", readme)
    assert stated, "README.md states the int8 example model's accuracy"
    assert (correct, len(rows)) == (int(stated.group(1)), int(stated.group(2)))
