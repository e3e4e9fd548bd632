"""Sentence → intent and slots, deterministically: the reading layer.

``Reader.read`` takes the words ``normalize`` kept and decides (with the sentence forms of
``forms``, the request shapes of ``rewrites`` and the questions of ``questions``), before
anything can act, what kind of sentence it is: small talk or a bare "ok" (``confirm``:
only a question Grace asked can make it act), a question (never acts: "did you cancel the
backup?" asks about the backup), a hypothetical ("what would happen if I cancelled …", "should I
approve it?"), a negation ("don't cancel …"), or a command. Only a command acts, and only when its
verb leads the sentence and its object is something Grace runs ("stop the music" is not a
command). Slots name the target as it was said — ``id``, ``what`` (the task type word), ``which``
(latest / previous / first), ``state``, ``all`` — and the chat resolves them against live state
and the conversation. A destructive command whose verb was a spelling correction becomes
``clarify``. A sentence it cannot read gives ``None``; ``sentences.parse``, the entry, then
tries its parts.
"""

from __future__ import annotations

from collections.abc import Iterable

from grace_chat.chat import forms, questions, rewrites, stances, talk
from grace_chat.chat import vocabulary as v
from grace_chat.chat import words as rw
from grace_chat.chat.forms import SMALL, SUBJECTS, command_for
from grace_chat.chat.intent import Intent
from grace_chat.chat.normalize import Text, is_id

DESTRUCTIVE = frozenset(
    {"cancel_task", "pause_task", "resume_task", "approve", "reject", "run_task",
     "pause_learning", "resume_learning"}
)  # fmt: skip
#: Commands that ask rather than act whenever the reading is uncertain: every one that changes
#: something ("pase the backup" pauses nothing until the person says which).
ASK_WHEN_UNSURE = DESTRUCTIVE
#: What an agent asks leave to do: "let the supervisor modify the config" approves it.
_ASKED_TO_DO = frozenset({"modify", "change", "edit", "update", "write", "delete", "remove",
                          "install", "apply", "rewrite", "touch", "reboot"})  # fmt: skip
#: What a wish for "an update", "a summary", "the logs" may ask for.
_REPORTS = frozenset({"status", "missions", "healing", "approvals", "task_logs"})


class Reader:
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
            elif word.isdigit() and "id" not in args and i and self.type_of(words[i - 1]):
                args["id"] = word  # "deploy 456": a number of one of the type's tasks
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
        while len(words) > 1 and (
            (words[0] in v.YES | v.NO and words[1] not in ("need",))
            or (words[0] in ("like", "just", "basically") and words[1] in v.VERB)
        ):
            words = words[1:]  # "yeah like terminate the backup"
        if (
            (text.said[0] in v.YES or _ASKED_TO_DO & set(words[2:5]))
            and words[:1] == ["let"]
            and len(words) > 2
            and words[1] not in v.VERB
            and not any(w in v.VERB for w in words[1:3])
            and not v.NEGATIONS & set(words)
        ):  # "yes, let it modify config.yaml", "yes, let the supervisor change it": approved
            words = ["approve", *(words[2:] if words[1] in ("it", "them") else words[1:])]
        words = rewrites.no_need_then(words)
        if words == ["do"]:  # "please do"
            words = ["goahead"]
        words = rewrites.polite(rewrites.wanted(words, text), text.said)
        words = rewrites.allowed(words)
        if len(words) > 2 and words[0] == "you" and words[1] in v.VERB and not text.asked:
            words = words[1:]  # "please you stop the deploy_456"
        words = rewrites.plain_verb(words)
        if len(words) > 1 and words[0] == "to" and words[1] in v.VERB:
            words = words[1:]  # "please to cancel the backup task"
        if words[0] == "know" and len(words) > 1:  # "I want to know the state of the deployment"
            rest = words[2:] if words[1] in ("if", "whether") else words[1:]
            if rest and self.action(rest) is None:
                return self.query(rest, shown=True)
        if len(words) > 1 and words[0] in ("a", "an", "some") and forms.DESIRE & set(text.said):
            shown = self.query(words, shown=True)  # "I'd like an update on the release mission"
            if shown is not None and (
                shown.name in _REPORTS
                or (shown.name == "task_status" and "status" in self.things(words))
            ):
                return shown
        if words == ["learning", "off"] or (words == ["learning", "on"] and not text.asked):
            return Intent("pause_learning" if words[1] == "off" else "resume_learning")
        if all(w in v.YES for w in words) or forms.acknowledged(text):
            if set(text.said) & v.THANKS:
                return Intent("smalltalk")
            return Intent("confirm")  # "ok", "ok cool": only a question Grace asked acts on it
        if all(w in SMALL | v.YES for w in words):
            return Intent("smalltalk")
        if (
            not text.asked
            and text.said[0] not in v.NO  # "no thanks" declines
            and (
                set(text.said) & v.THANKS
                or (  # "great, the backup finished"; not "great, the backup failed again"
                    text.said[0] in v.PLEASED
                    and not any(v.STATE.get(w) == "failed" for w in text.said)
                )
            )
            and not any(w in v.VERB for w in words)
        ):
            return Intent("smalltalk")  # "thanks for pausing that", "great, the backup finished"
        if all(w in v.NO for w in words) or "nevermind" in words or v.RETRACT & set(text.said):
            refused = self.negated(words)  # "never mind, don't cancel it": what was refused
            return refused if refused is not None and refused.args else Intent("declined")
        if forms.idiom(words):
            return None  # "can you approve of my outfit?": an opinion, nothing of Grace's
        if text.asked and set(words) <= rw.FOLLOW_UP and {"now", "still", "yet"} & set(text.said):
            return Intent("task_status")  # "and now?": the task just spoken of, again
        if talk.social(text, self.grace_word) or talk.vents(text):
            return Intent("smalltalk")  # "you're great, you know that", "see you tomorrow"
        wished = rewrites.wished_type(text.said, self.type_of) or (
            None if text.asked else forms.new_of_type(words, self.type_of)
        )
        if wished is not None:
            return Intent("run_task", {"what": wished})
        if words[0] in ("explain", "tell") and len(words) > 2:  # "can you explain why it failed"
            rest = words[2:] if words[1] in ("me", "us") else words[1:]
            if rest[0] in ("why", "when", "how"):
                words = rest
        if words[0] in ("why", "when"):
            return self.why(words[1:], keep_state=words[0] == "why")
        if words[0] in ("who", "whose"):  # "who asked for the config approval?": the approvals
            return Intent("approvals") if "approval" in self.things(words) else None
        if words[:4] in (["is", "it", "possible", "to"], ["is", "there", "a", "way"]):
            # "is it possible to pause a sync and carry on later?", "is there a way to …"
            words = ["can", "i", *words[5 if words[4:5] == ["to"] else 4 :]]
        reported = forms.reported_question(words)
        if reported is not None and not any(w in v.VERB or w in v.GERUND for w in words[reported:]):
            return self.query(words[reported:], shown=True)  # "Priya is asking if it's running"
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
            # only learning makes the command another one ("would pausing learning …")
            thing = "learning" if "learning" in self.things(words) else None
            name = command_for(found[1], thing)  # "what happens to the logs if I cancel a task"
            return Intent("hypothetical", {"intent": name}) if name else None
        negated = self.negated(words)
        if negated is not None:
            return None if negated.name == "unknown" else negated
        if words[0] in ("leave", "keep") and (
            set(words) & (set(v.STATE) | {"alone", "be", "is", "going", "on"})
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
            or (
                self.verb_form(words[0])
                and not {"logs", "status"} & set(self.things(words))
                and not (text.asked and self._reported(words[1:]))  # "backup done?" asks
            )
        ):
            return self.command(words)
        if words[0] in SUBJECTS or words[0] in v.GERUND:
            return None
        if words[0] in ("what", "which", "how") and len(words) > 1 and not self.askable(words[1]):
            return None  # "what time is it?"
        first = words[0]
        if not (first in self.known or first in rw.ARTICLES or is_id(first) or self.type_of(first)):
            return None  # starts with a word Grace does not know: "nuke it all"
        return self.query(words)

    @staticmethod
    def _reported(words: list[str]) -> bool:
        """Words that say how something is or went ("done", "still running", "failed")."""
        return any(w in v.STATE or w in v.PAST_VERB or w in ("still", "yet") for w in words)

    def why(self, words: list[str], *, keep_state: bool) -> Intent | None:
        return questions.why(self, words, keep_state=keep_state)

    def askable(self, word: str) -> bool:
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
        head, rest = words[0], rewrites.before_reason([w for w in words[1:] if w != "inbackground"])
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
        if (
            verb in ("cancel", "pause")
            and rest
            and rest[0].endswith("ing")
            and rest[0] not in v.GERUND
            and rest[0] not in {*v.THING, *v.ALL, *v.ANY, *v.NEGATIONS}
            and not self.verb_form(rest[0][:-3])
        ):
            return None  # "stop telling me about backups": an everyday doing, not a task
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
        return questions.query(self, words, shown=shown)
