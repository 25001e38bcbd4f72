"""Build step of the hardreid Python package (metadata: pyproject.toml).

The package is pure Python plus one shared library, hardreid/libhardreid.so,
that the package loads with ctypes from its own directory. It is not a
CPython extension module, so it is compiled here with the C compiler
directly rather than through distutils' extension machinery:

    $CC -O2 -fPIC -shared -fopenmp -I<root> examples/libhardreid.c -o ... -lsleef -lm

without any -march: the header compiles every ISA path it has with function
target attributes and picks one at run time (cpuid), so one build serves
every x86-64 CPU (and the NEON path on AArch64). SLEEF is linked when its
header and library are found, else the build adds -DHR_NO_SLEEF.

Environment: CC (default cc), HARDREID_NO_SLEEF=1, HARDREID_NO_OPENMP=1,
HARDREID_CFLAGS (extra flags), HARDREID_BUILD_DIR (setuptools' build and
egg-info directory; default python/build, so nothing lands in the Makefile's
build/).
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(ROOT, "hardreid.h")
SOURCE = os.path.join("examples", "libhardreid.c")
BUILD_BASE = os.environ.get("HARDREID_BUILD_DIR", os.path.join("python", "build"))


def version():
    with open(HEADER, encoding="utf-8") as f:
        m = re.search(r'#define HARDREID_VERSION_STRING "([^"]+)"', f.read())
    if not m:
        sys.exit("setup.py: no HARDREID_VERSION_STRING in hardreid.h")
    return m.group(1)


def _compiles(cc, code, args):
    """Whether cc compiles and links code with args (a probe)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        cmd = cc + [src, "-o", os.path.join(tmp, "probe")] + args
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


class SharedLibrary(Extension):
    """A plain shared library (no Python module init), named NAME.so."""


class build_shared(build_ext):
    def get_ext_filename(self, fullname):
        # called with the full dotted name and, by get_ext_fullpath, the last part
        if isinstance(self.ext_map.get(fullname), SharedLibrary):
            return os.path.join(*fullname.split(".")) + ".so"
        return super().get_ext_filename(fullname)

    def build_extension(self, ext):
        if not isinstance(ext, SharedLibrary):
            return super().build_extension(ext)
        out = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cc = shlex.split(os.environ.get("CC", "cc"))
        flags = ["-std=c99", "-O2", "-g0", "-fPIC", "-shared", "-I" + ROOT]
        libs = ["-lm"]
        if os.environ.get("HARDREID_NO_OPENMP") != "1":
            if _compiles(cc, "#include <omp.h>\nint main(void){return omp_get_max_threads()<0;}\n",
                         ["-fopenmp"]):
                flags.append("-fopenmp")
            else:
                print("hardreid: the compiler has no OpenMP: the kernels run on one thread",
                      file=sys.stderr)
        sleef = os.environ.get("HARDREID_NO_SLEEF") != "1" and _compiles(
            cc, "#include <sleef.h>\nint main(void){return Sleef_expf_u10(0.f) != 1.f;}\n",
            ["-lsleef", "-lm"])
        if sleef:  # strong references: kept by --as-needed, and missing is an error
            libs.insert(0, "-lsleef")
            flags.append("-DHR_SLEEF_STRONG")
        else:
            flags.append("-DHR_NO_SLEEF")
            print("hardreid: no SLEEF (libsleef-dev): heads use scalar expf", file=sys.stderr)
        flags += shlex.split(os.environ.get("HARDREID_CFLAGS", ""))
        cmd = cc + flags + ["-o", out, os.path.join(ROOT, SOURCE)] + libs
        print(" ".join(cmd))
        subprocess.check_call(cmd)


try:  # a py3-none wheel: the library is no CPython extension, only platform-bound
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        _bdist_wheel = None

cmdclass = {"build_ext": build_shared}
if _bdist_wheel is not None:
    class bdist_wheel(_bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel

os.makedirs(os.path.join(ROOT, BUILD_BASE), exist_ok=True)
setup(
    version=version(),
    ext_modules=[SharedLibrary("hardreid.libhardreid", sources=[SOURCE], depends=["hardreid.h"])],
    cmdclass=cmdclass,
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
)
