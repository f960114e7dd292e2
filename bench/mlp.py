"""From a checkout: `python bench/mlp.py [options]` = `deltaprop bench mlp [options]`."""
import sys

from deltaprop.bench import mlp

sys.exit(mlp.main())
