"""The sentence table: many phrasings per intent, and sentences that must not act."""

from __future__ import annotations

import pytest

from grace_chat.chat.intent import Intent
from grace_chat.chat.sentences import parse

TABLE: list[tuple[str, Intent | None]] = [
    # the seed's own phrases
    ("Show background tasks", Intent("list_tasks")),
    ("List active tasks", Intent("list_tasks")),
    ("Cancel task task_backup_789", Intent("cancel_task", {"id": "task_backup_789"})),
    ("Pause learning", Intent("pause_learning")),
    ("Pause learning for now", Intent("pause_learning")),
    ("Resume learning", Intent("resume_learning")),
    ("What's Grace doing?", Intent("status")),
    ("Show healing attempts", Intent("healing")),
    ("List active missions", Intent("missions")),
    ("Run deployment in the background", Intent("run_task", {"what": "deployment"})),
    ("Deploy backend in the background", Intent("run_task", {"what": "deploy", "rest": "backend"})),
    ("Show deployment logs", Intent("task_logs", {"what": "deployment"})),
    # list tasks, other ways
    ("show me the running tasks", Intent("list_tasks", {"state": "running"})),
    ("Could you please list all background jobs?", Intent("list_tasks")),
    ("what's running?", Intent("list_tasks", {"state": "running"})),
    ("What is running", Intent("list_tasks", {"state": "running"})),
    ("which tasks are running", Intent("list_tasks", {"state": "running"})),
    ("any jobs running?", Intent("list_tasks", {"state": "running"})),
    ("SHOW BACKGROUND TASKS!!", Intent("list_tasks")),
    ("Grace, show my tasks please", Intent("list_tasks")),
    # cancel, synonyms
    ("stop task task_1", Intent("cancel_task", {"id": "task_1"})),
    ("kill task_9", Intent("cancel_task", {"id": "task_9"})),
    ("abort the job deploy_123", Intent("cancel_task", {"id": "deploy_123"})),
    ("Please terminate task backup.nightly", Intent("cancel_task", {"id": "backup.nightly"})),
    ("cancel the task", Intent("cancel_task")),
    # pause / resume a task
    ("pause task task_7", Intent("pause_task", {"id": "task_7"})),
    ("hold the job task_7", Intent("pause_task", {"id": "task_7"})),
    ("resume task task_7", Intent("resume_task", {"id": "task_7"})),
    ("continue task_7", Intent("resume_task", {"id": "task_7"})),
    # learning
    ("stop learning", Intent("pause_learning")),
    ("Grace, pause the learning jobs please", Intent("pause_learning")),
    ("halt all learning", Intent("pause_learning")),
    ("start learning again", Intent("resume_learning")),
    ("unpause learning", Intent("resume_learning")),
    ("continue the learning jobs", Intent("resume_learning")),
    ("pause learning for me", Intent("pause_learning")),
    ("Pause learning for everyone", Intent("pause_learning", {"everyone": "yes"})),
    ("stop all learning for all users", Intent("pause_learning", {"everyone": "yes"})),
    ("pause everyone's learning", Intent("pause_learning", {"everyone": "yes"})),
    ("resume learning for everybody", Intent("resume_learning", {"everyone": "yes"})),
    ("resume everyone's learning jobs", Intent("resume_learning", {"everyone": "yes"})),
    # status
    ("what are you doing?", Intent("status")),
    ("what is grace up to", Intent("status")),
    ("status", Intent("status")),
    ("what's going on?", Intent("status")),
    ("how are things going", Intent("status")),
    # healing and missions
    ("show the self-healing history", Intent("healing")),
    ("list recent healing attempts", Intent("healing")),
    ("what did self-heal do?", Intent("healing")),
    ("show missions", Intent("missions")),
    ("which missions are running?", Intent("missions")),
    # running work
    ("start a backup in the background", Intent("run_task", {"what": "backup"})),
    ("kick off the sync job in the background", Intent("run_task", {"what": "sync"})),
    ("show me the logs for task deploy_123", Intent("task_logs", {"id": "deploy_123"})),
    # approvals
    ("approve it", Intent("approve")),
    ("yes, approve appr_abc123", Intent("approve", {"id": "appr_abc123"})),
    ("Approve the request", Intent("approve")),
    ("reject appr_123", Intent("reject", {"id": "appr_123"})),
    ("deny that", Intent("reject")),
    ("help", Intent("help")),
    ("What can you do?", Intent("help")),
    # must NOT act
    ("don't cancel task task_1", Intent("declined", {"intent": "cancel_task"})),
    ("do not pause learning", Intent("declined", {"intent": "pause_learning"})),
    ("don't pause learning for everyone", Intent("declined", {"intent": "pause_learning"})),
    ("never approve appr_1", Intent("declined", {"intent": "approve"})),
    ("I wonder how deployments work", None),
    ("tell me a joke", None),
    ("the task was cancelled yesterday", None),
    ("cancel", None),
    ("learning is fun", None),
    ("", None),
    ("why did the deployment fail", None),
]


@pytest.mark.parametrize(("sentence", "expected"), TABLE, ids=[s or "<empty>" for s, _ in TABLE])
def test_sentence_table(sentence: str, expected: Intent | None) -> None:
    assert parse(sentence) == expected


def test_every_intent_has_several_phrasings() -> None:
    counts: dict[str, int] = {}
    for _, intent in TABLE:
        if intent is not None:
            counts[intent.name] = counts.get(intent.name, 0) + 1
    thin = {name: n for name, n in counts.items() if n < 2 and name not in {"task_logs"}}
    assert not thin, f"intents with a single phrasing: {thin}"


TYPES = ("backup", "build", "deployment", "report", "sync")
#: Forms of sentence read the same whatever the words around them, with the runner's task types.
FORMS: list[tuple[str, Intent | None]] = [
    # polite requests with a gerund or in the passive act; hedges around a command do not count
    ("would you mind cancelling the sync?", Intent("cancel_task", {"what": "sync"})),
    ("could backup_123 be paused please?", Intent("pause_task", {"id": "backup_123"})),
    ("could you possibly resume build_789", Intent("resume_task", {"id": "build_789"})),
    ("let's pause the backup", Intent("pause_task", {"what": "backup"})),
    ("un-pause build_789", Intent("resume_task", {"id": "build_789"})),
    ("get rid of sync_301", Intent("cancel_task", {"id": "sync_301"})),
    ("we need a report", Intent("run_task", {"what": "report"})),
    # a word after "job" is no id; "running" filters a list, "active" is the list
    ("is the sync job still running?", Intent("task_status", {"what": "sync"})),
    ("any jobs running?", Intent("list_tasks", {"state": "running"})),
    ("list active jobs", Intent("list_tasks")),
    # why / when about one task: "why" keeps the state that picks it
    (
        "why did the deployment fail?",
        Intent("task_status", {"what": "deployment", "state": "failed"}),
    ),
    ("when will the backup be done?", Intent("task_status", {"what": "backup"})),
    ("why is the sky blue?", None),
    ("what needs approving?", Intent("approvals")),
    ("what happened overnight?", Intent("status")),
    # never act: hypotheticals of more forms, negations of things Grace does not run
    ("would it be bad to reject this?", Intent("hypothetical", {"intent": "reject"})),
    ("do you think I should stop the sync?", Intent("hypothetical", {"intent": "cancel_task"})),
    ("we should not stop learning", Intent("declined", {"intent": "pause_learning"})),
    ("let's not resume the build", Intent("declined", {"intent": "resume_task"})),
    ("what does pausing do?", Intent("help")),
    ("stop the music", None),
    ("kill time until lunch", None),
    ("let's start a band", None),
    ("don't stop believing", None),
    ("I can't stop thinking about lunch", None),
    ("stop the world, I want to get off", None),
    ("resume writing tips?", None),
    # small talk
    ("thanks, that's all", Intent("smalltalk")),
    ("nice work", Intent("smalltalk")),
    ("how are you today?", Intent("smalltalk")),
    # fourth round: quoted commands are mentioned, not given
    ('"cancel the backup" was in his message', None),
    ("the wiki says 'pause sync_301' first", None),
    ('cancel "backup_123"', Intent("cancel_task", {"id": "backup_123"})),
    # a letter typed twice is a typo of the verb, so the command asks
    ("cancell backup_123", Intent("clarify", {"intent": "cancel_task", "id": "backup_123"})),
    # social sentences beyond greetings; no word of Grace's in them
    ("you're brilliant, you know", Intent("smalltalk")),
    ("see you on monday", Intent("smalltalk")),
    ("who are you?", Intent("smalltalk")),
    ("cheers mate", Intent("smalltalk")),
    ("thanks, cancel the sync", Intent("cancel_task", {"what": "sync"})),
    ("great, the backup failed again", None),  # a complaint, not small talk
    # shorthand and a command after "you"
    ("can u pause sync_301", Intent("pause_task", {"id": "sync_301"})),
    ("you stop backup_123", Intent("cancel_task", {"id": "backup_123"})),
    # refusals without one of Grace's verbs
    ("don't touch the learning", Intent("declined", {"intent": "pause_learning"})),
    ("don't touch the backup", Intent("declined")),
    ("nope, don't", Intent("declined")),
    ("I do not know", None),
    # approving an everyday thing is nothing of Grace's
    ("approve my holiday request", None),
    # a new task by type alone; "all" after a target is no quantifier
    ("new sync task", Intent("run_task", {"what": "sync"})),
    ("abort the backup, it is eating all the disk", Intent("cancel_task", {"what": "backup"})),
    ("has anything changed?", Intent("status")),
    # several sentences: the one that reads, with the task an earlier one named
    ("the deployment is stuck. cancel it", Intent("cancel_task", {"what": "deployment"})),
    ("Stop the backup. Just kidding.", Intent("declined")),
    ("My boss is late. Anyway.", None),  # venting ("… is annoying") is small talk
    # Grace addressed at the end; "get a … going" starts one; "wanna"
    ("how's it going grace", Intent("status")),
    ("let's get a backup going", Intent("run_task", {"what": "backup"})),
    ("i wanna cancel the sync", Intent("cancel_task", {"what": "sync"})),
    # a type as a verb on an everyday thing; a reason after a comma; a reported command
    ("build me a house", None),
    ("continue build_789, the fix is in", Intent("resume_task", {"id": "build_789"})),
    ("my manager says, cancel the backup", None),
    # "and now?" asks again about the task spoken of; "do I need to …?" is a question
    ("and now?", Intent("task_status")),
    ("do I need to approve anything?", Intent("approvals")),
    ("can we put the sync on hold?", Intent("pause_task", {"what": "sync"})),
    # fifth round: a refusal says what it refuses, after "never mind" and of a wished participle
    ("do not approve the restart", Intent("declined", {"intent": "approve"})),
    ("don't approve my holiday request", None),
    ("never mind, don't resume it", Intent("declined", {"intent": "resume_task"})),
    ("we don't want the build paused", Intent("declined", {"intent": "pause_task"})),
    # a task type as a verb acts only on Grace's things, also as "-ing" after a start verb
    ("sync my photos", None),
    ("start building a snowman", None),
    ("deploy the api", Intent("run_task", {"what": "deploy", "rest": "api"})),
    ("start syncing it", Intent("run_task", {"what": "sync"})),
    ("start a sync with my phone", None),
    ("start a build of the app", Intent("run_task", {"what": "build", "rest": "app"})),
    # "approve of" is an opinion; feelings and apologies are small talk, a vented complaint
    # about something unnamed is not
    ("do you approve of this?", None),
    ("ugh, long day", Intent("smalltalk")),
    ("sorry, my bad", Intent("smalltalk")),
    ("ugh, this is so frustrating", Intent("smalltalk")),  # venting with no request
    # sixth round: plurals of a type list, help in any wording, things to be made, out of scope
    ("any report jobs?", Intent("list_tasks", {"what": "report"})),
    ("what sorts of things can you do", Intent("help")),
    (
        "what happens to the logs if I pause the build",
        Intent("hypothetical", {"intent": "pause_task"}),
    ),
    ("works for me", Intent("confirm")),
    ("are you a bot?", Intent("smalltalk")),
    ("tell me a good joke", None),
    ("will it snow this weekend?", None),
    ("we should stop my magazine subscription", None),
    ("build us a website", None),
    ("build a new page", Intent("clarify", {"intent": "run_task", "what": "build"})),
    # a common English word is never a typo of Grace's: "fair" is not "failed"
    ("fair enough", Intent("smalltalk")),
    ("the quiet ones", None),
    # "ok cool" acknowledges like "ok"; "can I …" with a circumstance is a what-if
    ("ok cool", Intent("confirm")),
    ("can I pause a backup for an hour?", Intent("hypothetical", {"intent": "pause_task"})),
    ("can I pause a backup?", Intent("help")),
    ("pausing versus cancelling?", Intent("help")),
]


@pytest.mark.parametrize(("sentence", "expected"), FORMS, ids=[s for s, _ in FORMS])
def test_sentence_forms(sentence: str, expected: Intent | None) -> None:
    assert parse(sentence, TYPES) == expected
