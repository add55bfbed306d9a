"""Aligned text tables for the subcommands' output."""

from __future__ import annotations


def print_table(header, rows) -> None:
    """Print rows of strings as an aligned text table."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(f"{str(c):<{w}}" for c, w in zip(row, widths)))
