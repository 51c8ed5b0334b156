"""`python -m engine recsys ...` (filled in by the recall-model work)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recsys", help="sequence recall models (protocol R1)")
    p.set_defaults(func=lambda a: p.print_help())
