"""From a checkout: `python bench/gemm.py [options]` = `deltaprop bench gemm [options]`."""
import sys

from deltaprop.bench import gemm

sys.exit(gemm.main())
