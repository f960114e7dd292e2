"""`python -m deltaprop ...`: the same as the `deltaprop` command."""
from .cli import main

raise SystemExit(main())
