"""``python -m bench.worker_memory <workspace id>``: the peak RSS of a process that holds what
a duplicate-detection worker holds for one workspace: the embedding model (loaded by
embedding a text) and the workspace's in-memory indexes (loaded by one full combined
lookup). Run in a fresh process by ``bench.feedback_ingest`` so nothing else the benchmark
did counts; prints the figure in MB on its last line."""

from __future__ import annotations

import resource
import sys


def main(argv: list[str]) -> None:
    from bench.setup import django_for_bench

    django_for_bench()
    from feedback import duplicate_services, embeddings
    from feedback.models import FeedbackItem

    workspace_id = int(argv[0])
    embeddings.embed(["load the model"])
    items = FeedbackItem.objects.filter(workspace_id=workspace_id).order_by("id")
    first = items.values_list("pk", flat=True)[0]
    duplicate_services.suggestions_compute(workspace_id=workspace_id, item_ids=[first])
    print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
