"""Questions: what a question or a noun phrase asks about ("deployment logs", "status of
build_789", "why did the deployment fail?", "any failed jobs?"). A question never acts; it reads
as a list of tasks (filtered by state or type), one task's status or logs, missions, healing
attempts, approvals or the status summary, or as nothing Grace can answer ("what time is it?").
"""

from __future__ import annotations

from typing import Protocol

from grace_chat.chat import forms
from grace_chat.chat import vocabulary as v
from grace_chat.chat import words as rw
from grace_chat.chat.intent import Intent
from grace_chat.chat.normalize import Text, is_id

#: Nouns of Grace's repairs, at the end of a question about one.
_REPAIRS = frozenset({"restart", "restarts", "rollback", "rollbacks", "repair", "repairs"})


class Reader(Protocol):
    """What a question needs of the reader: the sentence, the task types, and how it reads a
    target and names words. Each answer depends on the sentence's words alone."""

    text: Text
    types: tuple[str, ...]

    def type_of(self, word: str) -> str | None: ...
    def things(self, words: list[str]) -> list[str]: ...
    def target(self, words: list[str], *, structural: bool = False) -> dict[str, str]: ...
    def grace_word(self, word: str) -> bool: ...
    def askable(self, word: str) -> bool: ...


def why(r: Reader, words: list[str], *, keep_state: bool) -> Intent | None:
    """ "why did the deployment fail?" (the failed one), "when will the backup be done?":
    about one task, or nothing Grace can answer ("why is the sky blue?"); about an approval
    ("when does the approval expire?"), the approvals."""
    if "approval" in r.things(words):
        return Intent("approvals")
    target = r.target(words)
    if "id" in target or _singular(r, target) or _pointed(words):
        if keep_state and "which" not in target:  # "why did the deployment fail?"
            return Intent("task_status", {k: x for k, x in target.items()
                                          if k not in ("all", "said")})  # fmt: skip
        return Intent("task_status", _asked_about(target))
    return None


def query(r: Reader, words: list[str], *, shown: bool = False) -> Intent | None:
    """A question or a noun phrase ("deployment logs", "status of build_789")."""
    question = not shown and (
        r.text.asked or words[0] in v.QUESTION | v.AUX | v.ANY or words[0] == "about"
    )
    if not (shown or question) and any(
        w in rw.FINITE or (w in v.PAST_VERB and words[i] not in rw.ARTICLES)
        for i, w in enumerate(words[1:])
    ):
        return None  # a statement: "the backup is important"
    if not (shown or question) and not all(r.askable(w) for w in words):
        return None  # "my backup drive died": more than a name of something Grace runs
    things = [t for t in r.things(words) if t != "task"]
    acts = {v.VERB.get(w) or v.GERUND.get(w) or v.PAST_VERB.get(w) for w in words}
    if question and (
        acts & {"approve", "reject"} or (words[0] == "what" and rw.WANTS & set(words))
    ):
        things.insert(0, "approval")  # "what needs approving?", "what does it want?"
    elif "guardian" in words and not things:
        things.append("healing")  # "what is the guardian up to?": its incidents and repairs
    if (
        (words[:2] == ["what", "happened"] or (v.ANY & set(words) and rw.EVENTFUL & set(words)))
        and not things and not r.target(words[2:])
    ):  # fmt: skip
        return Intent("status")  # "what happened overnight?", "has anything changed?"
    personal = {"you", "grace", "your"} & set(words)
    if personal and ({"doing", "busy"} & set(words)) and not things:
        return Intent("status")
    target = r.target(words, structural="logs" in things)
    if target.get("id", "").startswith("appr_"):
        things.insert(0, "approval")  # "what is appr_7f3a9c about?": one of Grace's approvals
    plural = bool(rw.PLURAL_TASKS & set(words))  # "any sync jobs?": every one of the type
    specific = "id" in target or (_singular(r, target) and not plural) or _pointed(words)
    if question and words[0] in v.AUX and words[1:2] == ["it"] and "id" not in target:
        verb = [w for w in words[2:] if w not in rw.NOT_IDS | {"be", "been", "ever"}][:1]
        if verb and not r.askable(verb[0]) and not r.grace_word(verb[0]):
            return None  # "will it rain tomorrow?": no verb of Grace's, so "it" is no task
    repairs = [i for i, w in enumerate(words) if w in _REPAIRS and i]
    if (
        question
        and "healing" not in things
        and any(words[i - 1] in rw.ARTICLES or is_id(words[i - 1]) for i in repairs)
    ):
        things.insert(0, "healing")  # "what happened with the api_health restart?"
    for thing in rw.QUERY_THINGS:
        if thing not in things:
            continue
        if thing == "logs":
            return Intent("task_logs", _logs_target(r, words, target))
        if thing == "status" and specific:
            return Intent("task_status", _asked_about(target))
        name = {"mission": "missions", "approval": "approvals", "learning": "status"}
        return Intent(name.get(thing, thing))
    if specific:
        args = _asked_about(target)
        if question or shown:
            return Intent("task_status", args)
        return Intent("target", args) if {"id", "what"} & set(args) else None
    state = target.get("state")
    listed = "task" in r.things(words) or state or "what" in target
    listed = listed or (shown and bool(v.ALL & set(words)))  # "show everything"
    if not listed and not (question and set(words) & v.ANY):
        return None
    listing: dict[str, str] = {}
    if state and state != "active":  # the active tasks are the list itself
        listing["state"] = state
    if "what" in target:
        listing["what"] = target["what"]
    return Intent("list_tasks", listing)


def _asked_about(target: dict[str, str]) -> dict[str, str]:
    """The task a question is about: a state said after it is asked, not a filter."""
    args = {k: x for k, x in target.items() if k not in ("all", "said")}
    if target.get("said") == "after":
        args.pop("state", None)
    return args


def _singular(r: Reader, target: dict[str, str]) -> bool:
    what = target.get("what")
    if what is None or "all" in target:
        return False
    name = r.type_of(what)
    return name is not None and not (what != name and what.endswith("s"))


def _pointed(words: list[str]) -> bool:
    """Points at something said before; "everything that is paused" does not."""
    return any(
        w in ("it", "its", "this") or (w == "that" and not forms.relative(words[i + 1 : i + 2]))
        for i, w in enumerate(words)
    )


def _logs_target(r: Reader, words: list[str], target: dict[str, str]) -> dict[str, str]:
    target = {k: x for k, x in target.items() if k in ("id", "what", "which", "state")}
    if "what" in target and not r.types and "logs" in words:
        i = words.index("logs") if "logs" in words else -1
        before = words[i - 1] if i > 0 else None
        if before and before not in rw.ARTICLES and before not in v.THING:
            target["what"] = before
    return target
