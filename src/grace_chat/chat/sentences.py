"""Whole messages → one intent: the entry of the reading layer.

``parse`` reads a message with ``intents.Reader``. A message it cannot read as a whole gives
``None``, unless it is several sentences (split at . ! ? :, an emoji or a dash) of which exactly
one reads, or one part of a sentence split at its commas (a command only when no part before it
reports what someone said): that one is taken, with the task an earlier sentence named when it
points back ("the deployment is stuck. cancel it"; "I'm off to lunch, pause the backup"). A
refusal after "but" declines what came before it ("cancel the backup, but not now"); a quoted
command is mentioned, not given: asked about, it is a hypothetical, refused around it, declined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from grace_chat.chat import forms
from grace_chat.chat import vocabulary as v
from grace_chat.chat.forms import command_for
from grace_chat.chat.intent import Intent
from grace_chat.chat.intents import DESTRUCTIVE, Reader
from grace_chat.chat.normalize import normalize

#: Words that report what someone else said: a command after them is theirs, not given.
_REPORTING = frozenset({"says", "said", "say", "told", "tells", "tell", "asked", "asks", "wrote",
                        "writes", "typed", "types", "texted", "messaged", "suggested"})  # fmt: skip
#: What a sentence that quotes a command may still be: a question about the command.
_ABOUT_A_QUOTE = frozenset({"help", "hypothetical", "declined", "smalltalk"})
#: Intents about one task, which a pronoun may point at.
_POINTABLE = frozenset({"cancel_task", "pause_task", "resume_task", "task_status", "task_logs"})


def parse(text: str, task_types: Iterable[str] = ()) -> Intent | None:
    """The intent of one sentence; ``task_types`` are the names the runner knows."""
    types = tuple(sorted(task_types))
    whole = Reader(normalize(text, types), types).read()
    if forms.quotes_a_command(text):  # '"cancel the backup" is what he typed': mentioned, not
        # given; 'what does "resume" mean here?' still asks for help
        if whole is not None and whole.name in _ABOUT_A_QUOTE:
            return whole
        return _asked_about_quote(text, types)  # "the docs say 'pause learning' … is that true?"
    if whole is not None:
        return whole
    turned = _but(text, types)
    if turned is not None:
        return turned
    parts = [p for p in _SENTENCES.split(text.strip()) if p and p.strip(" .!?:")]
    first = len(parts) < 2  # one sentence: a command before a comma ("continue it, it's fixed")
    parts = [p for p in text.split(",") if p.strip()] if first else parts
    if len(parts) < 2:
        return None
    # "the deployment is stuck. cancel it": the one sentence that reads, with the task an
    # earlier one named when it points back at one
    readers = [Reader(normalize(p, types), types) for p in parts]
    read = [(i, r.read()) for i, r in enumerate(readers)]
    found = [(i, x) for i, x in read if x is not None and x.name != "smalltalk"]
    if len(found) != 1:
        return None
    if first and found[0][0] != 0 and found[0][1].name in DESTRUCTIVE:
        said_before = {w for r in readers[: found[0][0]] for w in r.text.said}
        if said_before & _REPORTING:
            return None  # "my colleague says, stop the sync": reported, not given
    i, intent = found[0]
    if intent.name in _POINTABLE and not {"id", "what"} & set(intent.args):
        named = [r.target(list(r.text.words)) for r in readers[:i]]
        earlier = [{k: x for k, x in t.items() if k in ("id", "what")} for t in named]
        earlier = [t for t in earlier if t]
        if len(earlier) == 1:
            return Intent(intent.name, {**intent.args, **earlier[0]})
    return intent


#: Where one sentence ends and the next begins: after . ! ? or :, at an emoji, at a dash.
_SENTENCES = re.compile(r"(?<=[.!?:])\s+|\s*[\u2600-\u27bf\U0001f300-\U0001faff]+\s*|\s+[—–-]+\s+")


def _but(text: str, types: tuple[str, ...]) -> Intent | None:
    """ "cancel the backup, but not now", "he keeps telling me to cancel the sync but I'd rather
    keep it running": a refusal after "but" declines the action named before it."""
    before, _, after = text.lower().rpartition(" but ")
    if not before:
        return None
    tail = Reader(normalize(after, types), types).read()
    if tail is None or tail.name != "declined":
        return None
    head = Reader(normalize(before.rstrip(" ,"), types), types)
    words = list(head.text.words)
    found = head.action(words)
    name = command_for(found[1], head.thing(words)) if found else None
    return Intent("declined", {"intent": name}) if name else tail


def _asked_about_quote(text: str, types: tuple[str, ...]) -> Intent | None:
    """A question about a quoted command ("the docs say 'pause learning' stops all updates — is
    that true?"): what the command would do, a hypothetical; a quoted command refused around
    it ('he said "just kill the sync", I'm not doing that'): declined."""
    asked = text.rstrip().endswith("?")
    outside = set(normalize(forms.unquoted(text), types).said)
    refused = bool(outside & v.NEGATIONS)
    if not (asked or refused):
        return None
    for span in forms.quoted(text):
        said = Reader(normalize(span, types), types).read()
        if said is not None and said.name in DESTRUCTIVE:
            return Intent("hypothetical" if asked else "declined", {"intent": said.name})
    return None
