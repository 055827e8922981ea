"""Demo data: the engine seeds nothing; it scores the demo workspace once everything is seeded."""

from __future__ import annotations

from priority import services
from productops.demo import DemoContext


def finish(context: DemoContext) -> None:
    """Score the demo roadmap now, so the first page view already shows ranks."""
    services.priorities_recompute(workspace_id=context.workspace.pk)
