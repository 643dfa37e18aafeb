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
