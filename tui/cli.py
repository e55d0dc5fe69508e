"""Command-line parsing. (Placeholder until the control-plane work lands.)"""

from __future__ import annotations

import argparse


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dispatch-tui")
    parser.parse_args(argv)
    from tui.app import run_dashboard

    return run_dashboard()
