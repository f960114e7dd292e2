"""From a checkout: `python bench/compare.py [options]` = `deltaprop bench compare [options]`."""
import sys

from deltaprop.bench import compare

sys.exit(compare.main())
