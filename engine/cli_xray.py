"""`python -m engine xray ...` (filled in by the chest X-ray work)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("xray", help="chest X-ray classifier (PneumoniaMNIST, protocol X1)")
    p.set_defaults(func=lambda a: p.print_help())
