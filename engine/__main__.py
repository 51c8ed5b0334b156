"""CLI: `python -m engine recsys ...`, `python -m engine rank ...` and `python -m engine xray ...`."""
from __future__ import annotations

import argparse
import sys

from engine.errors import EmbedLabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Embedding Lab engine")
    sub = parser.add_subparsers(dest="area", required=True)
    from engine import cli_rank, cli_recsys, cli_xray

    cli_recsys.add_parser(sub)
    cli_rank.add_parser(sub)
    cli_xray.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmbedLabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
