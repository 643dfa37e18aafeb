"""Bad input raises the encore.Error subclass of its status code, with one line that names the
problem; nothing is left half-written."""

import os

import numpy as np
import pytest

import encore


def one_line(error):
    text = str(error.value)
    assert text and "\n" not in text
    return text


def test_bad_paths(tmp_path):
    with pytest.raises(encore.Error) as e:
        encore.Model(str(tmp_path / "missing.encore"))
    assert isinstance(e.value, (encore.NotFoundError, encore.IoError)) and isinstance(e.value, OSError)
    assert "missing.encore" in one_line(e)
    garbage = tmp_path / "garbage.encore"
    garbage.write_bytes(b"not a model at all" * 10)
    with pytest.raises(encore.InvalidModelError) as e:
        encore.Model(str(garbage))
    assert isinstance(e.value, ValueError) and e.value.code == "invalid_model"
    one_line(e)


def test_bad_shapes_and_dtypes(models):
    session = encore.Model(models("tiny_cls")).session()
    ids = np.ones((2, 8), dtype=np.int32)
    with pytest.raises(encore.InvalidArgumentError) as e:
        session.run(ids.astype(np.float32))
    assert "float32" in one_line(e) and "input_ids" in str(e.value)
    with pytest.raises(encore.InvalidArgumentError) as e:
        session.run(np.ones((2, 2, 8), dtype=np.int32))
    assert "3 dimensions" in one_line(e)
    with pytest.raises(encore.InvalidArgumentError) as e:
        session.run(ids, np.ones((2, 7), dtype=np.int32))
    assert "attention_mask" in one_line(e)
    with pytest.raises(encore.InvalidArgumentError):
        session.run(ids, None, np.ones((1, 8), dtype=np.int64))
    with pytest.raises(encore.InvalidArgumentError):
        session.run(np.array(["a", "b"]))
    with pytest.raises(encore.InvalidArgumentError):
        session.run(np.zeros((1, 0), dtype=np.int32))
    with pytest.raises(encore.InvalidArgumentError):
        session.run(None)


def test_ids_out_of_range(models):
    model = encore.Model(models("tiny_cls"))
    session = model.session()
    vocab = model.config["vocab_size"]
    with pytest.raises(encore.OutOfRangeError) as e:
        session.run(np.array([[1, 2, vocab]], dtype=np.int64))
    assert str(vocab) in one_line(e) and isinstance(e.value, IndexError)
    with pytest.raises(encore.OutOfRangeError):
        session.run(np.array([[1, -1]], dtype=np.int32))
    with pytest.raises(encore.OutOfRangeError) as e:
        session.run(np.array([[1, 2**40]], dtype=np.int64))
    assert "int32" in one_line(e)
    with pytest.raises(encore.OutOfRangeError):
        session.run(np.ones((1, model.config["max_position_embeddings"] + 1), dtype=np.int32))
    with pytest.raises(encore.Error):
        session.run(np.ones((1, 4), dtype=np.int32), np.full((1, 4), 2, dtype=np.int32))  # mask values 0 / 1
    # The session still works after every failure.
    out = session.run(np.array([[1, 2, 3]], dtype=np.int32))
    assert out["logits"].shape == (1, len(model.labels))


def test_text_errors(models):
    session = encore.Model(models("text_bert")).session()
    with pytest.raises(encore.InvalidArgumentError) as e:
        session.classify(["fine", 3])
    assert "texts[1]" in one_line(e)
    with pytest.raises(encore.InvalidArgumentError):
        session.classify(["a", "b"], pairs=["only one"])
    with pytest.raises(encore.InvalidArgumentError):
        session.fill_mask("no mask here")  # not a fill-mask model
    with pytest.raises(encore.InvalidArgumentError):
        session.encode(["x"], batch_size=0)
    with pytest.raises(encore.InvalidArgumentError):
        encore.Model(models("text_bert")).session(truncation="middle")
    # A model without a tokenizer refuses text, by name.
    base = encore.Model(models("tiny_base.f32"))
    if base.tokenizer is None:
        with pytest.raises(encore.Error) as e:
            base.session().classify("text")
        one_line(e)


def test_convert_errors_leave_nothing(tmp_path, fixtures_dir):
    out = tmp_path / "out.encore"
    with pytest.raises(encore.Error) as e:
        encore.convert(str(tmp_path / "no-such-dir"), str(out), progress=False)
    one_line(e)
    assert not out.exists()
    with pytest.raises(encore.InvalidArgumentError):
        encore.convert(os.path.join(fixtures_dir, "tiny_cls"), str(out), quant="int4", progress=False)
    with pytest.raises(encore.InvalidArgumentError):
        encore.convert(os.path.join(fixtures_dir, "tiny_cls"), str(out), calib=np.zeros((4, 8), dtype=np.float32),
                       progress=False)
    # Calibration ids outside the vocabulary: refused, and no file appears.
    with pytest.raises(encore.Error):
        encore.convert(os.path.join(fixtures_dir, "tiny_cls"), str(out), calib=np.full((2, 8), 10**6),
                       progress=False)
    assert not out.exists()
    assert os.listdir(tmp_path) == []
