"""Learning supervisor: ingests documents into a searchable knowledge store (see
``docs/learning.md``). ``install(grace)`` wires it into an application."""

from grace.learning.config import LearningConfig
from grace.learning.supervisor import LearningSupervisor, install

__all__ = ["LearningConfig", "LearningSupervisor", "install"]
