"""``python -m bench.curves NAME [options]``: measure one cost curve (``--help`` per curve)."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.curves import CURVES


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = "\n".join(f"  {name:<12} {what}" for name, what in CURVES.items())
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in CURVES:
        print(f"usage: python -m bench.curves NAME [options]\n\ncurves:\n{names}")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module = importlib.import_module(f"bench.curves.{name}")
    prog = f"python -m bench.curves {name}"
    parser = argparse.ArgumentParser(prog=prog, description=CURVES[name])
    module.add_arguments(parser)
    code: int = module.run(parser.parse_args(argv[1:]))
    return code


if __name__ == "__main__":
    sys.exit(main())
