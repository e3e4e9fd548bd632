"""Sentence → intent and slots, deterministically: the reading layer.

``parse`` reads the words ``normalize`` kept and decides (with the sentence forms of ``forms``),
before anything can act, what kind of sentence it is: small talk or a bare "ok" (``confirm``:
only a question Grace asked can make it act), a question (never acts: "did you cancel the
backup?" asks about the backup), a hypothetical ("what would happen if I cancelled …", "should I
approve it?"), a negation ("don't cancel …"), or a command. Only a command acts, and only when its
verb leads the sentence and its object is something Grace runs ("stop the music" is not a
command). Slots name the target as it was said — ``id``, ``what`` (the task type word), ``which``
(latest / previous / first), ``state``, ``all`` — and the chat resolves them against live state
and the conversation. A destructive command whose verb was a spelling correction becomes
``clarify``. A sentence it cannot read gives ``None``, unless it is several sentences of which
exactly one reads (or one command before a comma): that one is taken, with the task an earlier
sentence named when it points back ("the deployment is stuck. cancel it").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from grace_chat.chat import forms, stances, talk
from grace_chat.chat import vocabulary as v
from grace_chat.chat import words as rw
from grace_chat.chat.forms import SMALL, SUBJECTS, command_for
from grace_chat.chat.intent import Intent
from grace_chat.chat.normalize import Text, is_id, normalize

DESTRUCTIVE = frozenset(
    {"cancel_task", "pause_task", "resume_task", "approve", "reject", "run_task",
     "pause_learning", "resume_learning"}
)  # fmt: skip
#: Commands that ask rather than act whenever the reading is uncertain: every one that changes
#: something ("pase the backup" pauses nothing until the person says which).
ASK_WHEN_UNSURE = DESTRUCTIVE
#: Intents about one task, which a pronoun may point at.
_POINTABLE = frozenset({"cancel_task", "pause_task", "resume_task", "task_status", "task_logs"})


class _Reader:
    def __init__(self, text: Text, types: tuple[str, ...]) -> None:
        self.text = text
        self.types = types
        self.known = v.known_words(types)

    # -- words -------------------------------------------------------------------------------

    def type_of(self, word: str) -> str | None:
        """The task type a word names: ``deploy``, ``deployments``, ``deployment`` → deployment."""
        if is_id(word):
            return None
        found = {
            name
            for name in self.types
            if word in (name, name + "s", name + "es")
            or (len(word) >= 4 and (name.startswith(word) or word.startswith(name)))
        }
        return found.pop() if len(found) == 1 else None

    def verb_form(self, word: str) -> str | None:
        """A task type used as a verb ("deploy the backend", "build it")."""
        name = self.type_of(word)
        if name is None or word.endswith(("ment", "ments", "ion", "ions", "s")):
            return None
        return name

    @staticmethod
    def things(words: Iterable[str]) -> list[str]:
        return [v.THING[w] for w in words if w in v.THING]

    def target(self, words: list[str], *, structural: bool = False) -> dict[str, str]:
        """The task a command or question points at, as said."""
        args: dict[str, str] = {}
        for i, word in enumerate(words):
            after_noun = (
                i > 0 and words[i - 1] in ("task", "job") and "what" not in args
                and word not in rw.NOT_IDS and word not in v.COMMON
            )  # fmt: skip
            if "id" not in args and (
                (is_id(word) and word not in v.STATE and not word.isdigit())
                or (after_noun and word not in v.known_words(self.types) | rw.ARTICLES)
            ):
                args["id"] = word
            elif "what" not in args and self.type_of(word):
                args["what"] = word
            elif word in v.RECENT and "which" not in args:
                args["which"] = v.RECENT[word]
            elif word in v.STATE and "state" not in args:
                args["state"] = v.STATE[word]
                if "what" in args or any(w in v.THING or w in v.PRONOUNS for w in words[:i]):
                    args["said"] = "after"  # "is the backup finished?": asked, not a filter
            elif word in v.ALL and not {"id", "what"} & set(args):
                args["all"] = "yes"  # not "abort the backup, it is eating all the disk"
        if structural and "what" not in args and "id" not in args:
            skip = rw.ARTICLES | v.PRONOUNS
            content = [w for w in words if w not in skip and w not in v.THING
                       and w not in v.RECENT and w not in v.STATE]  # fmt: skip
            if content and content[0] not in v.VERB and content[0] not in v.COMMON:
                args["what"] = content[0]
        return args

    # -- kinds of sentence -------------------------------------------------------------------

    @staticmethod
    def action(words: list[str]) -> tuple[int, str] | None:
        """The first word that names an action (any tense), and its concept."""
        for i, word in enumerate(words):
            for table in (v.VERB, v.PAST_VERB, v.GERUND):
                if word in table and table[word] not in ("show", "fail", "finish"):
                    return i, table[word]
        return None

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> Intent | None:
        text = self.text
        words = list(text.words)
        if not text.said:
            return None
        if talk.other_help(text.said, self.grace_word):
            return None  # "help me write my resume", "how do I fix a leaky tap": not Grace's
        if forms.is_help(text.said):
            return Intent("help")
        if not words:
            return Intent("smalltalk") if set(text.said) & SMALL | v.YES else None
        while len(words) > 1 and words[0] in v.YES | v.NO and words[1] not in ("need",):
            words = words[1:]
        if (
            text.said[0] in v.YES
            and words[:2] in (["let", "it"], ["let", "them"])
            and len(words) > 2
            and words[2] not in v.VERB
            and not v.NEGATIONS & set(words)
        ):
            words = ["approve", *words[2:]]  # "yes, let it modify config.yaml": the approval
        words = forms.no_need_then(words)
        if words == ["do"]:  # "please do"
            words = ["goahead"]
        words = forms.polite(forms.wanted(words, text), text.said)
        words = forms.allowed(words)
        if len(words) > 2 and words[0] == "you" and words[1] in v.VERB and not text.asked:
            words = words[1:]  # "please you stop the deploy_456"
        if all(w in v.YES for w in words) or forms.acknowledged(text):
            if set(text.said) & v.THANKS:
                return Intent("smalltalk")
            return Intent("confirm")  # "ok", "ok cool": only a question Grace asked acts on it
        if all(w in SMALL | v.YES for w in words):
            return Intent("smalltalk")
        if all(w in v.NO for w in words) or "nevermind" in words or v.RETRACT & set(text.said):
            refused = self.negated(words)  # "never mind, don't cancel it": what was refused
            return refused if refused is not None and refused.args else Intent("declined")
        if forms.idiom(words):
            return None  # "can you approve of my outfit?": an opinion, nothing of Grace's
        if text.asked and set(words) <= rw.FOLLOW_UP and {"now", "still", "yet"} & set(text.said):
            return Intent("task_status")  # "and now?": the task just spoken of, again
        if talk.social(text, self.grace_word) or talk.vents(text):
            return Intent("smalltalk")  # "you're great, you know that", "see you tomorrow"
        wished = forms.wished_type(text.said, self.type_of) or (
            None if text.asked else forms.new_of_type(words, self.type_of)
        )
        if wished is not None:
            return Intent("run_task", {"what": wished})
        if words[0] in ("why", "when"):
            return self.why(words[1:], keep_state=words[0] == "why")
        if words[0] in ("who", "whose"):
            return None
        start = forms.hypothetical(words)
        if start is not None:
            found = self.action(words[start:])
            after = words[start + found[0] + 1 :] if found else []
            if found is None or (
                found[1] not in ("approve", "reject")
                and forms.foreign(after, self.known, self.type_of)
                and not self.thing(after)
            ):
                return None  # "I should cancel my netflix subscription": nothing of Grace's
            thing = self.thing(words[start:]) or ("learning" if self.thing(words) == "learning"
                                                   else None)  # fmt: skip
            name = command_for(found[1], thing)  # "what happens to the logs if I cancel a task"
            return Intent("hypothetical", {"intent": name}) if name else None
        negated = self.negated(words)
        if negated is not None:
            return None if negated.name == "unknown" else negated
        if words[0] in ("leave", "keep") and (
            set(words) & (set(v.STATE) | {"alone", "be", "is"})
            or (len(words) > 1 and all(w in v.PRONOUNS or w in rw.ARTICLES for w in words[1:]))
        ):
            return Intent("declined")  # "leave the backup alone", "leave it"
        if words[:2] in (["can", "i"], ["could", "i"], ["may", "i"]):
            if len(words) > 2 and v.VERB.get(words[2]) == "show":
                words = words[2:]
            else:
                return self.possible(words[2:])
        if words[0] in v.AUX and len(words) > 1 and words[1] in ("i", "you", "we", "they"):
            return self.query(words)  # "do I have …", "did you …"
        if (
            words[0] in v.VERB
            or "inbackground" in words[1:]
            or (self.verb_form(words[0]) and not {"logs", "status"} & set(self.things(words)))
        ):
            return self.command(words)
        if words[0] in SUBJECTS or words[0] in v.GERUND:
            return None
        if words[0] in ("what", "which", "how") and len(words) > 1 and not self._askable(words[1]):
            return None  # "what time is it?"
        first = words[0]
        if not (first in self.known or first in rw.ARTICLES or is_id(first) or self.type_of(first)):
            return None  # starts with a word Grace does not know: "nuke it all"
        return self.query(words)

    def why(self, words: list[str], *, keep_state: bool) -> Intent | None:
        """ "why did the deployment fail?" (the failed one), "when will the backup be done?":
        about one task, or nothing Grace can answer ("why is the sky blue?")."""
        target = self.target(words)
        if "id" in target or self._singular(target) or self._pointed(words):
            if keep_state and "which" not in target:  # "why did the deployment fail?"
                return Intent("task_status", {k: x for k, x in target.items()
                                              if k not in ("all", "said")})  # fmt: skip
            return Intent("task_status", self._asked_about(target))
        return None

    def _askable(self, word: str) -> bool:
        return (
            word in self.known or word in rw.ARTICLES or word in rw.ASKING or is_id(word)
            or self.type_of(word) is not None
        )  # fmt: skip

    def grace_word(self, word: str) -> bool:
        """Names an action or something Grace runs."""
        tables = (v.VERB, v.PAST_VERB, v.GERUND, v.THING, v.STATE)
        return any(word in t for t in tables) or is_id(word) or self.type_of(word) is not None

    def thing(self, words: list[str]) -> str | None:
        found = [t for t in self.things(words) if t != "task"]
        return found[0] if found else None

    def negated(self, words: list[str]) -> Intent | None:
        return stances.negated(words, self)

    def possible(self, words: list[str]) -> Intent:
        return stances.possible(words, self)

    def command(self, words: list[str]) -> Intent | None:
        head, rest = words[0], [w for w in words[1:] if w != "inbackground"]
        if rest[:1] and rest[0] in v.NEGATIONS:
            return None  # "do not …" that was not a refusal of anything Grace does
        verb = v.VERB.get(head)
        if verb is None:  # "deploy the backend", "<type> … in the background"
            if "inbackground" not in words and not forms.graces(rest, self.type_of):
                if forms.made(rest) and rest[:1] not in (["me"], ["us"]):
                    return Intent("clarify", {"intent": "run_task", "what": head})  # "build an app"
                return None  # "build a snowman", "sync my calendar": an everyday thing
            what = head
            extra = [w for w in rest if w not in rw.ARTICLES and w not in v.THING]
            args = {"what": what, **({"rest": " ".join(extra)} if extra else {})}
            return Intent("run_task", args)
        if verb == "show":
            return self.query(rest, shown=True)
        if not rest:
            return Intent(verb) if verb in ("approve", "reject") else None
        thing = self.thing(rest)
        if verb == "run" and rest[0].endswith("ing") and self.verb_form(rest[0][:-3]):
            if not forms.graces(rest[1:], self.type_of) and "inbackground" not in words:
                return None  # "start building a snowman"
            rest = [rest[0][:-3], *rest[1:]]  # "start deploying the api": a deployment
        if verb in ("approve", "reject"):
            args = {}
            ids = [w for w in rest if is_id(w)]
            if ids:
                args["id"] = ids[0]
            skip = rw.ARTICLES | v.PRONOUNS | v.AUX | rw.NOT_ABOUT
            about = [
                w for w in rest if w not in skip and v.THING.get(w) != "approval" and not is_id(w)
            ]
            if about:
                if forms.everyday_approval(rest):
                    return None  # "approve my holiday request": nothing of Grace's
                args["about"] = " ".join(about)
            name = verb
        else:
            command = command_for(verb, thing)
            if command is None or (
                forms.foreign(rest, self.known, self.type_of) and "inbackground" not in words
            ):
                return None  # "stop the music", "kill time until lunch"
            name = command
            if name in ("pause_learning", "resume_learning"):
                # "... for everyone": everyone's gate (admins); otherwise the caller's own
                args = {"everyone": "yes"} if v.everyone(rest) else {}
            elif name == "run_task":
                args = forms.run_args(rest, self.type_of)
                if forms.everyday(rest) and "inbackground" not in words:
                    return None  # "run a backup of my photos": of an everyday thing
            else:
                args = self.target(rest)
                args.pop("said", None)
        if head in self.text.corrected and name in ASK_WHEN_UNSURE:
            return Intent("clarify", {"intent": name, **args})
        return Intent(name, args)

    def query(self, words: list[str], *, shown: bool = False) -> Intent | None:
        """A question or a noun phrase ("deployment logs", "status of build_789")."""
        question = not shown and (
            self.text.asked or words[0] in v.QUESTION | v.AUX | v.ANY or words[0] == "about"
        )
        if not (shown or question) and any(
            w in rw.FINITE or (w in v.PAST_VERB and words[i] not in rw.ARTICLES)
            for i, w in enumerate(words[1:])
        ):
            return None  # a statement: "the backup is important"
        if not (shown or question) and not all(self._askable(w) for w in words):
            return None  # "my backup drive died": more than a name of something Grace runs
        things = [t for t in self.things(words) if t != "task"]
        acts = {v.VERB.get(w) or v.GERUND.get(w) or v.PAST_VERB.get(w) for w in words}
        if question and (
            acts & {"approve", "reject"} or (words[0] == "what" and rw.WANTS & set(words))
        ):
            things.insert(0, "approval")  # "what needs approving?", "what does it want?"
        if (
            (words[:2] == ["what", "happened"] or (v.ANY & set(words) and rw.EVENTFUL & set(words)))
            and not things and not self.target(words[2:])
        ):  # fmt: skip
            return Intent("status")  # "what happened overnight?", "has anything changed?"
        personal = {"you", "grace", "your"} & set(words)
        if personal and ({"doing", "busy"} & set(words)) and not things:
            return Intent("status")
        target = self.target(words, structural="logs" in things)
        plural = bool(rw.PLURAL_TASKS & set(words))  # "any sync jobs?": every one of the type
        specific = "id" in target or (self._singular(target) and not plural) or self._pointed(words)
        if question and words[0] in v.AUX and words[1:2] == ["it"] and "id" not in target:
            verb = [w for w in words[2:] if w not in rw.NOT_IDS | {"be", "been", "ever"}][:1]
            if verb and not self._askable(verb[0]) and not self.grace_word(verb[0]):
                return None  # "will it rain tomorrow?": no verb of Grace's, so "it" is no task
        for thing in rw.QUERY_THINGS:
            if thing not in things:
                continue
            if thing == "logs":
                return Intent("task_logs", self._logs_target(words, target))
            if thing == "status" and specific:
                return Intent("task_status", self._asked_about(target))
            name = {"mission": "missions", "approval": "approvals", "learning": "status"}
            return Intent(name.get(thing, thing))
        if specific:
            args = self._asked_about(target)
            if question or shown:
                return Intent("task_status", args)
            return Intent("target", args) if {"id", "what"} & set(args) else None
        state = target.get("state")
        listed = "task" in self.things(words) or state or "what" in target
        listed = listed or (shown and bool(v.ALL & set(words)))  # "show everything"
        if not listed and not (question and set(words) & v.ANY):
            return None
        listing: dict[str, str] = {}
        if state and state != "active":  # the active tasks are the list itself
            listing["state"] = state
        if "what" in target:
            listing["what"] = target["what"]
        return Intent("list_tasks", listing)

    @staticmethod
    def _asked_about(target: dict[str, str]) -> dict[str, str]:
        """The task a question is about: a state said after it is asked, not a filter."""
        args = {k: x for k, x in target.items() if k not in ("all", "said")}
        if target.get("said") == "after":
            args.pop("state", None)
        return args

    def _singular(self, target: dict[str, str]) -> bool:
        what = target.get("what")
        if what is None or "all" in target:
            return False
        name = self.type_of(what)
        return name is not None and not (what != name and what.endswith("s"))

    @staticmethod
    def _pointed(words: list[str]) -> bool:
        """Points at something said before; "everything that is paused" does not."""
        return any(
            w in ("it", "its", "this") or (w == "that" and not forms.relative(words[i + 1 : i + 2]))
            for i, w in enumerate(words)
        )

    def _logs_target(self, words: list[str], target: dict[str, str]) -> dict[str, str]:
        target = {k: x for k, x in target.items() if k in ("id", "what", "which", "state")}
        if "what" in target and not self.types and "logs" in words:
            i = words.index("logs") if "logs" in words else -1
            before = words[i - 1] if i > 0 else None
            if before and before not in rw.ARTICLES and before not in v.THING:
                target["what"] = before
        return target


def parse(text: str, task_types: Iterable[str] = ()) -> Intent | None:
    """The intent of one sentence; ``task_types`` are the names the runner knows."""
    types = tuple(sorted(task_types))
    if forms.quotes_a_command(text):
        return None  # '"cancel the backup" is what he typed': mentioned, not given
    whole = _Reader(normalize(text, types), types).read()
    if whole is not None:
        return whole
    parts = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p.strip(" .!?")]
    first = len(parts) < 2  # one sentence: a command before a comma ("continue it, it's fixed")
    parts = [p for p in text.split(",") if p.strip()] if first else parts
    if len(parts) < 2:
        return None
    # "the deployment is stuck. cancel it": the one sentence that reads, with the task an
    # earlier one named when it points back at one
    readers = [_Reader(normalize(p, types), types) for p in parts]
    read = [(i, r.read()) for i, r in enumerate(readers)]
    found = [(i, x) for i, x in read if x is not None and x.name != "smalltalk"]
    if len(found) != 1 or (first and found[0][0] != 0):
        return None
    i, intent = found[0]
    if intent.name in _POINTABLE and not {"id", "what"} & set(intent.args):
        named = [r.target(list(r.text.words)) for r in readers[:i]]
        earlier = [{k: x for k, x in t.items() if k in ("id", "what")} for t in named]
        earlier = [t for t in earlier if t]
        if len(earlier) == 1:
            return Intent(intent.name, {**intent.args, **earlier[0]})
    return intent
