"""Learning supervisor: ingests documents into a searchable knowledge store (see
``docs/learning.md``). ``Grace`` builds it from the ``[learning]`` section."""

from grace_chat.learning.config import LearningConfig
from grace_chat.learning.supervisor import LearningSupervisor

__all__ = ["LearningConfig", "LearningSupervisor"]
