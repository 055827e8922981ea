"""Server time and query count of every portal page on the demo data.

    python -m bench portal_pages [--scale 1] [--repeat 15]

Seeds the demo workspace (``seed_demo --scale N``) in the benchmark database
(``BENCH_DATABASE_URL``, default PostgreSQL ``productops_bench``), then renders each
page in-process with Django's test client as the demo owner (or a visitor for the
public pages), with ``DEBUG`` off as in production. Rows per page (``bench/pages.py``):
the median server time (target < 200 ms) and the query count, which must be the same
after the demo data is topped up to ``scale + 1`` (a rolled-back transaction). The
public board's home page and the release list have benchmarks of their own
(``board_home``, ``release_list``).
"""

from __future__ import annotations

from bench.pages import Page, page_main, page_rows, team_client, visitor_client
from bench.results import Row, SuiteContext

REPEAT = {"small": 5, "full": 15}


def pages() -> list[Page]:
    """The portal's pages on the demo workspace; detail pages of a fixed object each."""
    from feedback.models import Company, Contact, FeedbackItem
    from productops.models import Workspace
    from releases.models import OPEN_STATUSES, Release
    from roadmap import selectors as roadmap_selectors
    from roadmap.models import Feature, Goal, Team

    workspace = Workspace.objects.get(slug="demo")
    feature = (
        Feature.objects.filter(workspace=workspace, merged_into=None).order_by("priority_rank", "id").first()
    )
    public = roadmap_selectors.public_feature_list(workspace=workspace).order_by("id").first()
    item = (
        FeedbackItem.objects.filter(workspace=workspace, merged_into=None)
        .order_by("-received_at", "id")
        .first()
    )
    company = Company.objects.filter(workspace=workspace).order_by("-arr", "id").first()
    release = (
        Release.objects.filter(workspace=workspace, status__in=OPEN_STATUSES)
        .order_by("planned_date", "id")
        .first()
    )
    # A contact with feedback and votes: an empty list skips its prefetch, which would read as growth.
    contact = (
        Contact.objects.filter(workspace=workspace, feedback__isnull=False, votes__isnull=False)
        .order_by("email", "id")
        .first()
    ) or Contact.objects.filter(workspace=workspace).order_by("email", "id").first()
    goal = Goal.objects.filter(workspace=workspace, parent=None).order_by("id").first()
    squad = Team.objects.filter(workspace=workspace).order_by("id").first()
    team, visitor = team_client(), visitor_client()
    return [
        Page("home", team, "/w/demo/"),
        Page("roadmap", team, "/w/demo/roadmap/"),
        Page("roadmap timeline", team, "/w/demo/roadmap/timeline/"),
        Page("roadmap kanban", team, "/w/demo/roadmap/kanban/"),
        Page("roadmap matrix", team, "/w/demo/roadmap/matrix/"),
        Page("roadmap select mode", team, "/w/demo/roadmap/?select=1"),
        Page("roadmap shipped list", team, "/w/demo/roadmap/closed/?status=shipped"),
        Page("feature detail", team, f"/w/demo/features/{feature.pk}/"),
        Page("feature edit (all fields)", team, f"/w/demo/features/{feature.pk}/edit/"),
        Page("feature new", team, "/w/demo/features/new/"),
        Page("plan products", team, "/w/demo/plan/products/"),
        Page("plan goals", team, "/w/demo/plan/goals/"),
        Page("plan goal detail", team, f"/w/demo/plan/goals/{goal.pk}/"),
        Page("plan initiatives", team, "/w/demo/plan/initiatives/"),
        Page("plan teams", team, "/w/demo/plan/teams/"),
        Page("plan team detail", team, f"/w/demo/plan/teams/{squad.pk}/"),
        Page("search", team, "/w/demo/search/?q=export"),
        Page("picker features", team, "/w/demo/pick/features/?q=export"),
        Page("picker companies", team, "/w/demo/pick/companies/?q=a"),
        Page("saved views", team, "/w/demo/views/"),
        Page("feedback list", team, "/w/demo/feedback/"),
        Page("feedback detail", team, f"/w/demo/feedback/{item.pk}/"),
        Page("company list", team, "/w/demo/companies/"),
        Page("company detail", team, f"/w/demo/companies/{company.pk}/"),
        Page("contact list", team, "/w/demo/contacts/"),
        Page("contact detail", team, f"/w/demo/contacts/{contact.pk}/"),
        Page("release detail", team, f"/w/demo/releases/{release.pk}/"),
        Page("release ship", team, f"/w/demo/releases/{release.pk}/ship/"),
        Page("settings scoring", team, "/w/demo/settings/scoring/"),
        Page("settings releases", team, "/w/demo/settings/releases/"),
        Page("settings members", team, "/w/demo/settings/members/"),
        Page("settings tokens", team, "/w/demo/settings/tokens/"),
        Page("settings public board", team, "/w/demo/settings/public-board/"),
        Page("scope items API", team, "/api/v1/workspaces/demo/scope-items/"),
        Page("public feature", visitor, f"/p/demo/features/{public.pk}/"),
        Page("public roadmap", visitor, "/p/demo/roadmap/"),
        Page("public changelog", visitor, "/p/demo/changelog/"),
        Page("changelog RSS", visitor, "/p/demo/changelog/rss/"),
        Page("changelog Atom", visitor, "/p/demo/changelog/atom/"),
    ]


def suite(ctx: SuiteContext, repeat: int | None = None) -> list[Row]:
    return page_rows(ctx, pages(), repeat=repeat or REPEAT[ctx.size], prefix="portal")


def main(argv: list[str]) -> None:
    page_main("portal_pages", suite, argv)
