"""The compiled modules keep the C++ runtime to themselves.

Where a toolchain links libstdc++ statically, its locale facet ids (``std::collate<char>::id``, ...)
are STB_GNU_UNIQUE symbols: exported, the dynamic loader merges them with the system libstdc++'s
across RTLD_LOCAL modules, and a library imported afterwards (torch) indexes the facets of another
libstdc++ release and crashes. The build hides every static archive's symbols; this reads the
dynamic symbol tables of the installed modules (with binutils' readelf) to check it.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

import deltaprop

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("readelf") is None,
                                reason="needs Linux and binutils' readelf")

# std::locale itself, a facet's id (std::collate<char>::id) and its guard variable.
LIBSTDCXX_RUNTIME = re.compile(r"^(_ZNSt6locale|_ZNSt.*2idE$|_ZGVNSt.*2idE$)")


def _modules():
    folder = os.path.dirname(deltaprop.__file__)
    found = sorted(glob.glob(os.path.join(folder, "_core*.so")) + glob.glob(os.path.join(folder, "_cuda*.so")))
    assert found, f"no compiled module in {folder}"
    return found


def exported_symbols(path):
    """Names the module defines in its dynamic symbol table (GLOBAL, WEAK or UNIQUE binding)."""
    table = subprocess.run(["readelf", "-W", "--dyn-syms", path], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in table.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(fields) >= 8 and fields[4] in ("GLOBAL", "WEAK", "UNIQUE") and fields[6] != "UND":
            names.add(fields[7].split("@")[0])
    return names


@pytest.mark.parametrize("path", _modules(), ids=os.path.basename)
def test_module_exports_its_init_and_no_libstdcxx_runtime(path):
    names = exported_symbols(path)
    module = os.path.basename(path).split(".")[0]
    assert f"PyInit_{module}" in names
    leaked = sorted(n for n in names if LIBSTDCXX_RUNTIME.match(n))
    assert not leaked, f"{os.path.basename(path)} exports libstdc++'s locale machinery: {leaked[:5]}"


def test_the_pattern_recognises_facet_ids():
    # Names taken from a module whose static libstdc++ was exported.
    for name in ("_ZNSt8messagesIcE2idE", "_ZNSt7collateIcE2idE", "_ZGVNSt8numpunctIwE2idE",
                 "_ZNSt7__cxx119money_putIwSt19ostreambuf_iteratorIwSt11char_traitsIwEEE2idE",
                 "_ZNSt6locale7classicEv"):
        assert LIBSTDCXX_RUNTIME.match(name), name
    for name in ("PyInit__core", "_ZNSt11_Deque_baseIbSaIbEED1Ev"):
        assert not LIBSTDCXX_RUNTIME.match(name), name
