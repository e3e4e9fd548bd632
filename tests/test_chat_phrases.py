"""The phrase tables against a real server with live tasks, missions, healing attempts and
approvals behind every row (tests/phrases/README.md).

Strict: no sentence marked must-not-act may act, in any table. Accuracy is held to floors a little
under what was measured when each table was last scored (tuned 743/743, held-back 258/261, fresh
111/111, fresh2 120/121, fresh3 194/194, fresh4 82/82, fresh5 193/197, fresh6 143/143, fresh7
177/177, fresh8 173/173, fresh9 169/170, fresh10 185/188, fresh11 190/190, fresh12 186/187,
fresh13 181/184), so a change that makes the chat understand less fails here.
"""

from __future__ import annotations

import pytest

from tests.phrases.world import bench, score

FLOORS = {
    "tuned.tsv": 0.99,
    "untuned.tsv": 0.985,
    "fresh.tsv": 0.99,
    "fresh2.tsv": 0.99,
    "fresh3.tsv": 0.99,
    "fresh4.tsv": 0.98,
    "fresh5.tsv": 0.97,
    "fresh6.tsv": 0.98,
    "fresh7.tsv": 0.98,
    "fresh8.tsv": 0.98,
    "fresh9.tsv": 0.98,
    "fresh10.tsv": 0.98,
    "fresh11.tsv": 0.99,
    "fresh12.tsv": 0.99,
    "fresh13.tsv": 0.98,
}


@pytest.mark.parametrize("table", list(FLOORS))
async def test_phrase_table(table: str) -> None:
    async with bench() as runner:
        result = await score(table, runner)
    wrongful = [f"{o.row.where} {o.row.sentence!r}: {o.actions}" for o in result.wrongful_actions]
    assert result.must_not_act > 50
    assert not wrongful, "sentences that must not act acted:\n" + "\n".join(wrongful)
    misses = [f"{o.row.where} {o.row.sentence!r}: {'; '.join(o.problems)}"
              for o in result.outcomes if not o.right]  # fmt: skip
    assert result.accuracy >= FLOORS[table], result.line() + "\n" + "\n".join(misses)
