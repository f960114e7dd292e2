"""The `deltaprop` command line (also `python -m deltaprop`): demo, train, predict, evaluate,
bench, info. Run `deltaprop --help` or `deltaprop <command> --help`."""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
