"""hardreid from a source tree: a shim over the package in python/hardreid.

`pip install .` (at the repository root) installs the package with its own
build of the library; from a source tree this file loads that same package
in place, so examples/python's scripts run without installing anything:

    import hardreid
    hr = hardreid.load()          # HARDREID_LIB, the package dir, ../../build (`make lib`)
    c, nearest = hr.difficulty(W)

See python/hardreid/__init__.py for the API.
"""
import importlib.util
import os
import sys

_pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "hardreid")
_spec = importlib.util.spec_from_file_location("hardreid", os.path.join(_pkg, "__init__.py"),
                                               submodule_search_locations=[_pkg])
_mod = importlib.util.module_from_spec(_spec)
sys.modules["hardreid"] = _mod  # `import hardreid` now returns the package
_spec.loader.exec_module(_mod)
