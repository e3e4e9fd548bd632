"""Wording of decision notifications, from ``APPROVAL_DECIDED`` events."""

from __future__ import annotations

from grace_chat.events import Event, EventType
from grace_chat.notifications.rules import Rules, Spec

_KEEP = ("approval_id", "state", "action_type", "agent", "decided_by", "reason", "trace_id")


def decision_rule(event: Event) -> Spec | None:
    d = event.data
    action = d.get("action_type", "action")
    data = {k: d[k] for k in _KEEP if d.get(k) is not None}
    state = d.get("state")
    reason = f" ({d['reason']})" if d.get("reason") else ""
    if state == "approved":
        return Spec("action_approved", f"Action approved: {action}", data=data)
    if state == "rejected":
        return Spec("action_rejected", f"Action rejected: {action}{reason}", data=data)
    if state == "expired":
        return Spec(
            "approval_expired",
            f"Approval for {action} expired; the action was not taken",
            data=data,
        )
    return None


def add_approval_rules(rules: Rules) -> None:
    rules.add(EventType.APPROVAL_DECIDED, decision_rule)
