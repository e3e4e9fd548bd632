"""Guardian: host metrics and registered health checks against thresholds (see
``docs/guardian.md``). ``install(grace)`` wires it into an application."""

from grace.guardian.component import Guardian, Incident, install
from grace.guardian.config import GuardianConfig, HealthCheck

__all__ = ["Guardian", "GuardianConfig", "HealthCheck", "Incident", "install"]
