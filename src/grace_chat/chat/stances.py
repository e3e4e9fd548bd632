"""Sentences that speak of one of Grace's actions without giving it: a refusal ("don't cancel
the backup", "I don't want the sync paused", "don't touch the training") keeps the intent it
refuses, and "can I …" asks what Grace can do (help) or, with a circumstance after what it names
("can I resume a task later?"), what would happen (a hypothetical). Neither ever acts.
"""

from __future__ import annotations

from typing import Protocol

from grace_chat.chat import forms
from grace_chat.chat import vocabulary as v
from grace_chat.chat import words as rw
from grace_chat.chat.forms import command_for
from grace_chat.chat.intent import Intent
from grace_chat.chat.normalize import is_id


class Reader(Protocol):
    """What a stance needs of the reader: the task types, the words it knows, and which words
    name Grace's things. Each answer depends on the sentence's words alone."""

    known: frozenset[str]

    def type_of(self, word: str) -> str | None: ...
    def verb_form(self, word: str) -> str | None: ...
    def thing(self, words: list[str]) -> str | None: ...
    def grace_word(self, word: str) -> bool: ...
    def action(self, words: list[str]) -> tuple[int, str] | None: ...


def negated(words: list[str], r: Reader) -> Intent | None:
    neg = next((i for i, w in enumerate(words) if w in ("not", "never")), None)
    if neg is None:
        return None
    rest = words[neg + 1 :]
    wish = forms.wished_done(rest)  # "I don't want the backup cancelled"
    if wish is not None:
        name = command_for(wish, r.thing(rest))
        return Intent("declined", {"intent": name} if name else {})
    for i, word in enumerate(rest):
        used_as_verb = i == 0 or rest[i - 1] not in rw.ARTICLES  # not "don't touch the backup"
        concept = (
            v.VERB.get(word) or v.GERUND.get(word)
            or (used_as_verb and r.verb_form(word) and "run")
        )  # fmt: skip
        if concept == "show":
            return None
        if concept:
            after = rest[i + 1 :]
            if concept in ("approve", "reject"):
                if after[:1] == ["of"] or forms.everyday_approval(after):
                    return Intent("unknown")  # "I don't approve of it", "… my holiday"
            elif forms.foreign(after, r.known, r.type_of):
                return Intent("unknown")  # "I can't stop thinking about lunch"
            name = command_for(concept, r.thing(after))
            return Intent("declined", {"intent": name} if name else {})
    if not forms.meddling(words[:neg], rest, r.grace_word):
        return None
    if r.thing(rest) == "learning":  # "don't touch the training": leave it running
        return Intent("declined", {"intent": "pause_learning"})
    return Intent("declined")  # "don't touch the backup"


def possible(words: list[str], r: Reader) -> Intent:
    """ "can I pause a task?" asks what Grace can do; "can I resume a task later?", with a
    circumstance after what it names, asks what would happen (a hypothetical)."""
    found = r.action(words[:1])
    if found is None:
        return Intent("help")
    name = command_for(found[1], r.thing(words))
    plain = rw.ARTICLES | v.PRONOUNS | set(v.THING) | set(v.STATE) | set(v.RECENT)
    extra = [w for w in words[1:] if w not in plain and not is_id(w) and not r.type_of(w)]
    odd = {v.STATE[w] for w in words[1:] if w in v.STATE} - _SUITED.get(found[1], set())
    if name and (extra or odd):  # "can I resume a task later?", "… a cancelled task?"
        return Intent("hypothetical", {"intent": name})
    return Intent("help")


#: The state a verb acts on: "can I resume a cancelled task?" asks what would happen.
_SUITED = {"resume": {"paused"}, "pause": {"running", "active"},
           "cancel": {"running", "active", "paused", "queued"}}  # fmt: skip
