"""encore: int8 Transformer encoders on CPUs, from Python.

    import encore
    report = encore.convert("my-bert/", "model.encore")      # Hugging Face dir -> int8 file
    model = encore.Model("model.encore")
    session = model.session(threads=2)
    session.classify(["Schmetterling", "butterfly"])         # [{'label': 'de', 'score': ...}, ...]
    session.encode(["a sentence", "another"])                # np.ndarray [2, dim]
    session.run(input_ids, attention_mask)                   # {'last_hidden_state': ..., 'logits': ...}

A Model is immutable and shared by any number of sessions and threads; a Session is used by
one thread at a time (calls from several threads on one Session wait for each other). Every
call that computes releases the GIL. Errors are encore.Error subclasses carrying the library's
one-line message.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _encore

__all__ = [
    "Error", "InvalidArgumentError", "NotFoundError", "IoError", "InvalidModelError", "UnsupportedError",
    "OutOfRangeError", "ResourceExhaustedError", "InternalError",
    "Model", "Session", "SentenceEncoder", "convert", "describe_cpu", "__version__",
]

__version__: str = _encore.__version__


class Error(Exception):
    """An encore call failed; str(error) is the library's one-line message, .code its status code."""

    code = "unknown"


class InvalidArgumentError(Error, ValueError):
    """The caller passed something unusable: a shape, an option, a text count."""

    code = "invalid_argument"


class NotFoundError(Error, FileNotFoundError):
    """A named file, tensor or key does not exist."""

    code = "not_found"


class IoError(Error, OSError):
    """The operating system refused: open, read, write, rename, mmap."""

    code = "io_error"


class InvalidModelError(Error, ValueError):
    """A model or checkpoint file is malformed or inconsistent."""

    code = "invalid_model"


class UnsupportedError(Error, NotImplementedError):
    """Well-formed, but something encore does not compute (it refuses rather than guess)."""

    code = "unsupported"


class OutOfRangeError(Error, IndexError):
    """A value outside what the model accepts: a token id, a sequence length."""

    code = "out_of_range"


class ResourceExhaustedError(Error, MemoryError):
    """An allocation failed or a configured limit (max_activation_bytes) was reached."""

    code = "resource_exhausted"


class InternalError(Error, RuntimeError):
    """A bug in encore, or a dependency reported failure."""

    code = "internal"


_encore._register_errors({cls.code: cls for cls in (
    InvalidArgumentError, NotFoundError, IoError, InvalidModelError, UnsupportedError, OutOfRangeError,
    ResourceExhaustedError, InternalError)})

Model = _encore.Model
Session = _encore.Session


def describe_cpu() -> Dict[str, Any]:
    """What the runtime sees of this CPU: name, microarchitecture, cores and the SIMD features
    its kernel table chooses by (the same line encore-bench prints)."""
    return _encore.describe_cpu()


def _path_or_temp(value: Any, what: str, tmp: str, write) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return write(value, os.path.join(tmp, what))


def _write_ids(value: Any, path: str) -> str:
    name = os.path.basename(path)
    array = np.asarray(value)
    if array.dtype.kind not in ("iub" if name == "calib_mask" else "iu"):
        raise InvalidArgumentError(f"{name}: dtype {array.dtype} is not an integer type")
    if array.ndim != 2:
        raise InvalidArgumentError(f"{name}: expected [sequences, seq_len], got {array.ndim} dimensions")
    if array.dtype.kind == "b":
        array = array.astype(np.int32)
    np.save(path + ".npy", np.ascontiguousarray(array.astype(np.int64 if array.dtype.itemsize > 4 else np.int32)))
    return path + ".npy"


def _write_texts(value: Any, path: str) -> str:
    lines = []
    for i, item in enumerate(value):
        parts = (item,) if isinstance(item, str) else tuple(item)
        if len(parts) not in (1, 2) or not all(isinstance(p, str) for p in parts):
            raise InvalidArgumentError(f"calib_text[{i}]: expected a str or a (text, pair) tuple of str")
        if any(c in p for p in parts for c in "\t\n\r"):
            raise InvalidArgumentError(f"calib_text[{i}]: a text contains a tab or a line break")
        lines.append("\t".join(parts))
    if not lines:
        raise InvalidArgumentError("calib_text: empty (give at least one text)")
    with open(path + ".txt", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path + ".txt"


def convert(model_dir: Union[str, os.PathLike], out_path: Union[str, os.PathLike], quant: str = "int8",
            calib: Any = None, calib_mask: Any = None, calib_text: Any = None, calibration: str = "minmax",
            quality_gate: bool = True, max_cosine_drop: float = 0.001, threads: int = 1, head: str = "auto", calib_sequences: int = 32,
            calib_length: int = 128, prune_heads: str = "", max_accuracy_drop: float = 0.5,
            prune_ffn: Union[None, str, float] = None, eval: Optional[str] = None,
            eval_labels: Optional[str] = None, eval_mask: Optional[str] = None, heldout: Optional[str] = None,
            heldout_labels: Optional[str] = None, heldout_mask: Optional[str] = None,
            progress: bool = True) -> Dict[str, Any]:
    """Converts a Hugging Face model directory to an .encore file, as `encore-convert` does.

    calib: calibration token ids for int8, a path to a .npy file or an integer array
    [sequences, seq_len], with calib_mask its attention mask (same forms); or calib_text: texts
    tokenized with the model's own tokenizer, a path (one text per line, pairs tab-separated) or
    a list of str / (text, pair) tuples. Without either: synthetic sequences, with a warning.
    calibration: minmax, percentile, mse or auto. quality_gate / max_cosine_drop: after
    quantizing, held-out calibration rows are run through the f32 and int8 models and the blocks
    int8 hurts most are kept in f32 until the mean per-token cosine drops by at most
    max_cosine_drop (its 1st percentile by 10x that). The other options are encore-convert's of
    the same name (`encore-convert --help`). Progress and warnings go to
    stderr as the CLI prints them (progress=False silences them). The output is written
    atomically: on any error nothing is left at out_path.

    Returns the report: output path, precision, size, family, head, layer count, calibration,
    warnings, the quality gate's figures and decisions (None when it did not run), seconds, and
    the full text encore-convert prints ("report").
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="encore-convert-") as tmp:
        calib_path = _path_or_temp(calib, "calib", tmp, _write_ids)
        mask_path = _path_or_temp(calib_mask, "calib_mask", tmp, _write_ids)
        text_path = _path_or_temp(calib_text, "calib_text", tmp, _write_texts)
        text, warnings, gate = _encore._convert(
            os.fspath(model_dir), os.fspath(out_path), quant, calib_path, mask_path, text_path, calibration,
            quality_gate, max_cosine_drop, threads, head, calib_sequences,
            calib_length, prune_heads, max_accuracy_drop, prune_ffn, eval or "", eval_labels or "",
            eval_mask or "", heldout or "", heldout_labels or "", heldout_mask or "", progress)
    if progress:
        sys.stdout.write(text)
        sys.stdout.flush()
    model = Model(os.fspath(out_path))
    config = model.config
    return {
        "output": os.fspath(out_path),
        "precision": model.precision,
        "bytes": model.file_size,
        "family": model.family,
        "head": model.head,
        "layers": config["num_hidden_layers"],
        "hidden_size": config["hidden_size"],
        "labels": model.labels,
        "calibration": model.metadata["calibration"],
        "warnings": list(warnings),
        "quality_gate": gate,
        "seconds": time.monotonic() - start,
        "report": text,
    }


class SentenceEncoder:
    """The most common sentence-transformers call on an encore model:

        encoder = encore.SentenceEncoder("all-MiniLM-L6-v2.encore")
        embeddings = encoder.encode(sentences, batch_size=32, normalize_embeddings=False)

    encode() returns what SentenceTransformer.encode returns for the same converted model: a
    float32 array [n, dim] for a list, [dim] for one string; normalize_embeddings scales each
    row to unit length; truncate_dim keeps the first dimensions (Matryoshka), before
    normalizing, as sentence-transformers does; prompt_name / prompt prepend a prompt (the
    model's default prompt when neither is given). A model converted from a sentence-transformers
    directory uses its own pooling, Dense and Normalize modules; a plain encoder uses mean pooling
    (what sentence-transformers builds for one).
    """

    def __init__(self, model_name_or_path: Union[str, os.PathLike, "Model"], threads: int = 1,
                 truncate_dim: Optional[int] = None):
        self.model = model_name_or_path if isinstance(model_name_or_path, Model) else Model(os.fspath(model_name_or_path))
        self.session = self.model.session(threads=threads)
        self.truncate_dim = truncate_dim
        self._pooling = "model" if self.model.sentence_dimension is not None else "mean"

    def get_sentence_embedding_dimension(self) -> int:
        width = self.model.sentence_dimension or self.model.hidden_size
        return min(width, self.truncate_dim) if self.truncate_dim else width

    @property
    def max_seq_length(self) -> int:
        return self.model.max_length

    def encode(self, sentences: Union[str, Sequence[str]], batch_size: int = 32, show_progress_bar: Optional[bool] = None,
               output_value: Optional[str] = "sentence_embedding", convert_to_numpy: bool = True,
               convert_to_tensor: bool = False, device: Optional[str] = None, normalize_embeddings: bool = False,
               prompt_name: Optional[str] = None, prompt: Optional[str] = None):
        if output_value != "sentence_embedding":
            raise UnsupportedError(f"output_value: only 'sentence_embedding' is supported, not {output_value!r}")
        if device not in (None, "cpu"):
            raise UnsupportedError(f"device: encore runs on the CPU, not {device!r}")
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if prompt is None:
            name = prompt_name if prompt_name is not None else self.model.default_prompt_name
            if name is not None:
                prompts = self.model.prompts
                if name not in prompts:
                    raise InvalidArgumentError(
                        f"prompt_name: {name!r} is not one of the model's prompts ({', '.join(prompts) or 'none'})")
                prompt = prompts[name]
        if prompt:
            texts = [prompt + t for t in texts]
        if not texts:
            embeddings = np.zeros((0, self.get_sentence_embedding_dimension()), dtype=np.float32)
        else:
            embeddings = self.session.encode(texts, batch_size=batch_size, normalize=normalize_embeddings,
                                             pooling=self._pooling, dimensions=self.truncate_dim)
        if convert_to_tensor:
            import torch  # only for callers who asked for tensors

            out = torch.from_numpy(embeddings)
            return out[0] if single else out
        if not convert_to_numpy:
            import torch

            rows = [torch.from_numpy(row.copy()) for row in embeddings]
            return rows[0] if single else rows
        return embeddings[0] if single else embeddings
