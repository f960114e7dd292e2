"""From a checkout: `python bench/sklearn_fit.py [options]` = `deltaprop bench sklearn [options]`."""
import sys

from deltaprop.bench import sklearn_fit

sys.exit(sklearn_fit.main())
