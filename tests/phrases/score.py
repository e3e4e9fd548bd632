"""``python -m tests.phrases.score [--misses] [TABLE ...]``: run the phrase tables against a real
server and print each table's score (rows right, must-not-act sentences, actions they took)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from tests.phrases.world import Score, bench, score

TABLES = (
    "tuned.tsv",
    "untuned.tsv",
    "fresh.tsv",
    "fresh2.tsv",
    "fresh3.tsv",
    "fresh4.tsv",
    "fresh5.tsv",
    "fresh6.tsv",
    "fresh7.tsv",
    "fresh8.tsv",
    "fresh9.tsv",
    "fresh10.tsv",
    "fresh11.tsv",
    "fresh12.tsv",
    "fresh13.tsv",
)


async def main(tables: list[str], misses: bool) -> list[Score]:
    results: list[Score] = []
    async with bench() as runner:
        for table in tables:
            result = await score(table, runner)
            results.append(result)
            if misses:
                for o in result.outcomes:
                    if not o.right:
                        print(
                            f"  {o.row.where}  {o.row.sentence!r}: {'; '.join(o.problems)}"
                            f"  [{str(o.reply.get('text', '')).splitlines()[0][:90]}]"
                        )
            print(result.line(), flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tables", nargs="*", default=list(TABLES))
    parser.add_argument("--misses", action="store_true", help="print every row that was wrong")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    scores = asyncio.run(main(args.tables, args.misses))
    sys.exit(1 if any(s.wrongful_actions for s in scores) else 0)
