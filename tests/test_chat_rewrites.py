"""Request shapes rewritten as plain command words (``grace_chat.chat.rewrites``)."""

from __future__ import annotations

import pytest

from grace_chat.chat import rewrites


@pytest.mark.parametrize(
    ("rest", "kept"),
    [
        ("the deploy it is going to the wrong cluster", "the deploy"),
        ("the deployment we will pick it up after lunch", "the deployment"),
        ("the backup because it keeps failing", "the backup"),
        ("the job that is running the backup", "the job that is running the backup"),
        ("it", "it"),
        ("sync_301", "sync_301"),
    ],
)
def test_a_command_ends_where_its_reason_starts(rest: str, kept: str) -> None:
    assert rewrites.before_reason(rest.split()) == kept.split()


@pytest.mark.parametrize(
    ("words", "plain"),
    [
        ("make pause to the backup", "pause the backup"),
        ("do a cancel of sync_301", "cancel sync_301"),
        ("make a backup", "make a backup"),  # a new backup, not a dressed-up verb
        ("give me the logs", "give me the logs"),
    ],
)
def test_an_action_named_as_a_noun_is_the_plain_verb(words: str, plain: str) -> None:
    assert rewrites.plain_verb(words.split()) == plain.split()


@pytest.mark.parametrize(
    ("words", "plain"),
    [
        ("learning can resume", "resume learning"),
        ("know if we can cancel the deployment", "know if we can cancel the deployment"),
        ("it can stop", "it can stop"),
    ],
)
def test_only_a_thing_is_allowed_to_go_on(words: str, plain: str) -> None:
    assert rewrites.allowed(words.split()) == plain.split()
