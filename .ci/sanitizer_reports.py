"""Read the ASan/UBSan/LSan logs of a sanitizer run (one file per process) and fail on anything
that concerns deltaprop: every ASan or UBSan error, and every leak whose allocation stack passes
through deltaprop's _core (the interpreter's and other extensions' leaks at exit are expected).

    python .ci/sanitizer_reports.py LOG_DIR
"""
import pathlib
import re
import sys

logs = sorted(pathlib.Path(sys.argv[1]).glob("*"))
errors, leaks, other_leaks = [], [], 0
for log in logs:
    text = log.read_text(errors="replace")
    for match in re.finditer(r"(ERROR: AddressSanitizer.*|runtime error:.*)", text):
        errors.append(f"{log.name}: {match.group(1)}")
    for record in re.split(r"\n(?=(?:Direct|Indirect) leak of)", text):
        if record.startswith(("Direct leak", "Indirect leak")):
            if "deltaprop/_core" in record:
                leaks.append(f"{log.name}:\n{record[:3000]}")
            else:
                other_leaks += 1
print(f"sanitizers: {len(logs)} log file(s); {len(errors)} error report(s); {len(leaks)} leak(s) "
      f"through deltaprop's _core; {other_leaks} leak record(s) elsewhere (ignored)")
for item in errors + leaks:
    print(item)
sys.exit(1 if errors or leaks else 0)
