"""Guardian: host metrics and registered health checks against thresholds (see
``docs/guardian.md``). ``Grace`` builds it from the ``[guardian]`` section."""

from grace_chat.guardian.component import Guardian, Incident
from grace_chat.guardian.config import GuardianConfig, HealthCheck

__all__ = ["Guardian", "GuardianConfig", "HealthCheck", "Incident"]
