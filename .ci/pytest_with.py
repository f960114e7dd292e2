"""Run pytest against the deltaprop installed in PACKAGE_DIR (e.g. a sanitizer build made with
`pip install --target`), not the one of the environment:

    python .ci/pytest_with.py PACKAGE_DIR [pytest arguments...]

PACKAGE_DIR goes first on sys.path and any editable-install redirect for deltaprop is dropped;
the run stops at once if deltaprop still comes from elsewhere.
"""
import os
import sys

package_dir = os.path.abspath(sys.argv[1])
sys.path.insert(0, package_dir)
sys.meta_path[:] = [f for f in sys.meta_path if "deltaprop" not in type(f).__module__]

import deltaprop  # noqa: E402

origin = os.path.abspath(deltaprop._core.__file__)
if not origin.startswith(package_dir + os.sep):
    sys.exit(f"deltaprop._core comes from {origin}, not from {package_dir}")
print(f"testing {origin}", flush=True)

import pytest  # noqa: E402

sys.exit(pytest.main(sys.argv[2:]))
