"""Shared fixtures of the Python module's tests (run by ctest as python_test, see CMakeLists.txt).

Models are converted once per session with encore.convert from the fixtures in tests/fixtures
and the example model in tools/train/langid; the paths of the tools and directories come from
ctest's environment (ENCORE_RUN, ENCORE_ANALYZE, ENCORE_FIXTURES, ENCORE_LANGID)."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import encore


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set (run the suite through ctest: ctest -R python_test)")
    return value


@pytest.fixture(scope="session")
def fixtures_dir():
    return _env("ENCORE_FIXTURES")


@pytest.fixture(scope="session")
def encore_run():
    return _env("ENCORE_RUN")


@pytest.fixture(scope="session")
def encore_analyze():
    return _env("ENCORE_ANALYZE")


@pytest.fixture(scope="session")
def langid_dir():
    return _env("ENCORE_LANGID")


@pytest.fixture(scope="session")
def models(tmp_path_factory, fixtures_dir, langid_dir):
    """Converted models by name, made once for the session through encore.convert."""
    out = tmp_path_factory.mktemp("models")
    made = {}

    def get(name):
        if name in made:
            return made[name]
        path = str(out / f"{name}.encore")
        if name.startswith("text_heads_"):
            # heads_bert_{token,qa,mlm} with the vocabulary tools/reference/text_heads.py used.
            src = tmp_path_factory.mktemp(name)
            head = name[len("text_heads_"):]
            for f in ("config.json", "model.safetensors"):
                shutil.copy(os.path.join(fixtures_dir, f"heads_bert_{head}", f), src)
            shutil.copy(os.path.join(fixtures_dir, "heads_text", "vocab.txt"), src)
            encore.convert(str(src), path, quant="f32", progress=False)
        elif name == "langid":
            encore.convert(langid_dir, path, calib=os.path.join(langid_dir, "calib_ids.npy"), progress=False)
        elif name.endswith(".f32"):
            encore.convert(os.path.join(fixtures_dir, name[:-4]), path, quant="f32", progress=False)
        else:
            fixture = os.path.join(fixtures_dir, name)
            encore.convert(fixture, path, calib=os.path.join(fixture, "calib_ids.npy"), progress=False)
        made[name] = path
        return path

    return get


def run_tool(args, **kwargs):
    """Runs a CLI, failing the test with its stderr when it fails."""
    r = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r


def cosine(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
