"""encore.convert: the report, progress on stderr, calibration given as a path or an array."""

import os

import numpy as np

import encore


def test_convert_report_and_progress(tmp_path, fixtures_dir, capfd):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    out = tmp_path / "m.encore"
    report = encore.convert(fixture, str(out), calib=os.path.join(fixture, "calib_ids.npy"))
    printed = capfd.readouterr()
    assert "calibration" in printed.err or "batch" in printed.err or printed.out  # progress as the CLI prints it
    assert "encore-convert:" in printed.out and "size:" in printed.out
    assert report["output"] == str(out) and out.exists()
    assert report["precision"] == "int8" and report["bytes"] == os.path.getsize(out)
    assert report["family"] == "bert" and report["layers"] > 0
    assert report["warnings"] == []
    assert "SQNR" in report["report"]
    quiet = encore.convert(fixture, str(tmp_path / "q.encore"), quant="f32", progress=False)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
    assert quiet["precision"] == "f32"


def test_calibration_array_equals_file(tmp_path, fixtures_dir):
    fixture = os.path.join(fixtures_dir, "tiny_cls")
    calib = np.load(os.path.join(fixture, "calib_ids.npy"))
    a, b = str(tmp_path / "a.encore"), str(tmp_path / "b.encore")
    encore.convert(fixture, a, calib=os.path.join(fixture, "calib_ids.npy"), progress=False)
    encore.convert(fixture, b, calib=calib.astype(np.int64), progress=False)
    ids = np.load(os.path.join(fixture, "input_ids.npy"))
    np.testing.assert_array_equal(encore.Model(a).session().run(ids)["logits"],
                                  encore.Model(b).session().run(ids)["logits"])


def test_default_calibration_warns(tmp_path, fixtures_dir):
    report = encore.convert(os.path.join(fixtures_dir, "tiny_cls"), str(tmp_path / "s.encore"), calib_sequences=4,
                            calib_length=16, progress=False)
    assert any("synthetic" in w for w in report["warnings"])


def test_calibration_from_text_and_the_quality_gate(tmp_path, fixtures_dir):
    """tools/reference/make_outlier_fixture.py's BERT, whose outlier channels break per-tensor
    int8: the gate keeps blocks in f32 and meets its bound; without it the held-out figures are
    not measured. Calibration texts given as a list equal the same texts given as a file."""
    fixture = os.path.join(fixtures_dir, "outlier_bert")
    on = encore.convert(fixture, str(tmp_path / "on.encore"), calib=os.path.join(fixture, "calib_ids.npy"),
                        progress=False)
    gate = on["quality_gate"]
    assert gate["ran"] and gate["passed"] and gate["f32_blocks"]
    assert gate["int8_mean_cosine"] < 1 - gate["max_cosine_drop"] <= gate["mean_cosine"]
    off = encore.convert(fixture, str(tmp_path / "off.encore"), calib=os.path.join(fixture, "calib_ids.npy"),
                         quality_gate=False, progress=False)
    assert off["quality_gate"] is None and off["bytes"] < on["bytes"]

    texts = ["the cat sat on the mat", "a quick brown fox", ("a pair", "of texts"), "numbers 1 2 3"]
    listed = encore.convert(os.path.join(fixtures_dir, "text_bert"),
                            str(tmp_path / "l.encore"), calib_text=texts, quality_gate=False, progress=False)
    path = tmp_path / "texts.txt"
    path.write_text("".join(("\t".join(t) if isinstance(t, tuple) else t) + "\n" for t in texts), encoding="utf-8")
    filed = encore.convert(os.path.join(fixtures_dir, "text_bert"), str(tmp_path / "f.encore"), calib_text=str(path),
                           quality_gate=False, progress=False)
    for report in (listed, filed):  # the summary names the file (a temporary one for the list)
        assert "4 texts (1 pairs)" in report["calibration"] and "37 tokens" in report["calibration"]
    ids = encore.Model(listed["output"]).tokenize(["a quick brown fox"])["input_ids"]
    np.testing.assert_array_equal(encore.Model(listed["output"]).session().run(ids)["last_hidden_state"],
                                  encore.Model(filed["output"]).session().run(ids)["last_hidden_state"])
