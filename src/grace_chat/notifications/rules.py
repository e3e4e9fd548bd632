"""Rules that turn bus events into notifications, as the original design's integrations describe.

A rule is a function ``(event) -> Spec | None``; ``Rules.match`` runs the rules registered for the
event's type in order and the first that returns a ``Spec`` wins. Who receives it is decided by
the event, never by the rule: ``data["user_id"]`` or ``data["user_ids"]``, else the configured
default recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grace_chat.events import Event, EventType
from grace_chat.notifications.model import Severity

#: Keys of ``event.data`` that steer routing and wording and are not copied into the notification.
_CONTROL_KEYS = frozenset({"user_id", "user_ids", "action", "message", "badge", "severity"})


@dataclass(frozen=True, slots=True)
class Spec:
    type: str
    message: str
    badge: str | None = None
    severity: Severity | None = None
    data: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[Event], Spec | None]


class Rules:
    def __init__(self) -> None:
        self._rules: dict[EventType, list[Rule]] = {}

    def add(self, event_type: EventType, rule: Rule) -> None:
        self._rules.setdefault(event_type, []).append(rule)

    def event_types(self) -> list[EventType]:
        return list(self._rules)

    def match(self, event: Event) -> Spec | None:
        for rule in self._rules.get(event.event_type, ()):
            spec = rule(event)
            if spec is not None:
                return spec
        return None


def recipients(event: Event, default: tuple[str, ...]) -> list[str]:
    data = event.data
    many = data.get("user_ids")
    if isinstance(many, list | tuple) and all(isinstance(u, str) and u for u in many):
        return list(dict.fromkeys(many))
    one = data.get("user_id")
    if isinstance(one, str) and one:
        return [one]
    return list(default)


def payload(event: Event) -> dict[str, Any]:
    data = {k: v for k, v in event.data.items() if k not in _CONTROL_KEYS}
    data.setdefault("source", event.source)
    if event.trace_id and "trace_id" not in data:
        data["trace_id"] = event.trace_id
    return data


def _severity(value: object, default: Severity) -> Severity:
    text = str(value).lower() if value is not None else ""
    if text == "critical":
        return Severity.ERROR
    try:
        return Severity(text)
    except ValueError:
        return default


_BADGE_FOR = {Severity.WARNING: "⚠️", Severity.ERROR: "❌"}

_PLAYBOOK_WORDS = {"restart": "Restarting", "rollback": "Rolling back", "retry": "Retrying"}


def describe_playbook(playbook: str) -> str:
    """``restart_service`` → ``Restarting service``; unknown verbs are kept as words."""
    verb, _, rest = playbook.partition("_")
    words = rest.replace("_", " ")
    if verb in _PLAYBOOK_WORDS:
        return f"{_PLAYBOOK_WORDS[verb]} {words}".strip()
    return playbook.replace("_", " ").capitalize()


def _action(event: Event) -> str:
    return str(event.data.get("action", ""))


def _text(event: Event, key: str, default: str) -> str:
    value = event.data.get(key)
    return str(value) if value not in (None, "") else default


def governance(event: Event) -> Spec | None:
    if _action(event) != "approval_needed":
        return None
    action_type = _text(event, "action_type", "action")
    return Spec(
        "approval_needed",
        _text(event, "message", f"Approval needed: {action_type}"),
        badge="⚠️",
        data=payload(event),
    )


def learning(event: Event) -> Spec | None:
    action = _action(event)
    source = _text(event, "source", event.source)
    if action == "learning_complete":
        trust = event.data.get("trust")
        if isinstance(trust, int | float) and not isinstance(trust, bool):
            default = f"Ingested {source}, trust {trust:.2f}"
        else:
            default = f"Learned from {source}"
        return Spec("learning_complete", _text(event, "message", default), data=payload(event))
    if action == "learning_failed":
        reason = _text(event, "error", "unknown error")
        return Spec(
            "learning_failed",
            _text(event, "message", f"Learning from {source} failed: {reason}"),
            data=payload(event),
        )
    return None


def agent_action(event: Event) -> Spec | None:
    action = _action(event)
    data = payload(event)
    if action == "error_detected":
        severity = _severity(event.data.get("severity"), Severity.WARNING)
        return Spec(
            "error_detected",
            _text(event, "message", f"Problem detected by {event.source}"),
            badge=str(event.data.get("badge") or _BADGE_FOR.get(severity, "⚠️")),
            severity=severity,
            data=data,
        )
    if action in {"self_healing_triggered", "healing_triggered"}:
        playbook = _text(event, "playbook", "playbook")
        return Spec(
            "healing_triggered",
            _text(event, "message", f"Auto-healing: {describe_playbook(playbook)}"),
            data=data,
        )
    if action in {"healing_completed", "healing_failed"}:
        verdict = "complete" if action == "healing_completed" else "failed"
        detail = _text(event, "detail", _text(event, "playbook", ""))
        default = f"Healing {verdict}: {detail}" if detail else f"Healing {verdict}"
        return Spec(action, _text(event, "message", default), data=data)
    if action in {"mission_started", "mission_completed", "mission_failed"}:
        mission = _text(event, "mission_id", "mission")
        verb = action.removeprefix("mission_")
        default = f"Mission {mission} {verb}"
        if action == "mission_failed" and event.data.get("error"):
            default += f": {event.data['error']}"
        return Spec(action, _text(event, "message", default), data=data)
    if action == "issue_resolved":
        return Spec(action, _text(event, "message", f"Resolved: {event.source}"), data=data)
    return None


def explicit(event: Event) -> Spec | None:
    """Any event that spells out ``type`` (or ``notification_type``) and ``message``."""
    kind = event.data.get("notification_type") or event.data.get("type")
    message = event.data.get("message")
    if not isinstance(kind, str) or not isinstance(message, str):
        return None
    data = {k: v for k, v in payload(event).items() if k not in {"type", "notification_type"}}
    badge = event.data.get("badge")
    return Spec(
        kind,
        message,
        badge=badge if isinstance(badge, str) else None,
        severity=_severity(event.data.get("severity"), Severity.INFO)
        if event.data.get("severity")
        else None,
        data=data,
    )


def default_rules() -> Rules:
    rules = Rules()
    rules.add(EventType.GOVERNANCE_CHECK, governance)
    rules.add(EventType.LEARNING_OUTCOME, learning)
    rules.add(EventType.AGENT_ACTION, agent_action)
    for kind in EventType:
        rules.add(kind, explicit)
    return rules
