"""Builds the encore Python package with the project's own CMake build (the C++ module
_encore links the static runtime and converter), so `pip install --no-build-isolation .` in
tools/python gives the same module as `cmake --preset release` with ENCORE_PYTHON=ON.

Environment: ENCORE_BUILD_JOBS (parallel jobs, default: all cores), ENCORE_CMAKE_ARGS (extra
configure arguments, e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)."""

import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository: tools/python/../..


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(encore VERSION ([0-9.]+)", f.read())
    if not m:
        sys.exit("setup.py: cannot find the project version in CMakeLists.txt (is this an encore checkout?)")
    return m.group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        for tool in ("cmake", "ninja"):
            if shutil.which(tool) is None:
                sys.exit(f"setup.py: {tool} is not installed (tools/install-deps.sh installs the build dependencies)")
        build_dir = os.path.join(os.path.abspath(self.build_temp), "cmake")
        configure = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                     "-DENCORE_PYTHON=ON", "-DENCORE_BUILD_TESTS=OFF", f"-DPython_EXECUTABLE={sys.executable}"]
        configure += shlex.split(os.environ.get("ENCORE_CMAKE_ARGS", ""))
        jobs = os.environ.get("ENCORE_BUILD_JOBS", str(os.cpu_count() or 2))
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", build_dir, "--target", "encore_python", "-j", jobs], check=True)
        built = [f for f in os.listdir(os.path.join(build_dir, "python", "encore"))
                 if f.startswith("_encore") and f.endswith(".so")]
        if len(built) != 1:
            sys.exit(f"setup.py: expected one _encore module in {build_dir}/python/encore, found {built}")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(build_dir, "python", "encore", built[0]), target)


setup(
    name="encore",
    version=project_version(),
    description="int8 Transformer encoders (BERT, DistilBERT, RoBERTa / XLM-R, ELECTRA) on CPUs",
    packages=["encore"],
    package_data={"encore": ["py.typed", "_encore.pyi"]},
    ext_modules=[Extension("encore._encore", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy"],
    python_requires=">=3.8",
    zip_safe=False,
)
