"""The release list: the API's first page and the portal's page.

    python -m bench release_list [--scale 1] [--repeat 15]

Rows (``bench/pages.py``), as the demo owner: each list's median server time
(< 200 ms) and query count (the same after a top-up to ``scale + 1``); and the API
list's ratio to the floor, the same first page of 50 releases (scalar fields, same
order) from ``.values()`` as JSON without DRF, interleaved in the same run
(informational: no target is set for it).
"""

from __future__ import annotations

from bench.pages import FLOOR_PREFIX, Page, floor_ratio_row, page_main, page_rows, team_client
from bench.results import Row, SuiteContext

REPEAT = {"small": 9, "full": 21}
API_URL = "/api/v1/workspaces/demo/releases/"
PORTAL_URL = "/w/demo/releases/"


def suite(ctx: SuiteContext, repeat: int | None = None) -> list[Row]:
    repeat = repeat or REPEAT[ctx.size]
    team = team_client()
    pages = [Page("list API", team, API_URL), Page("list portal", team, PORTAL_URL)]
    rows = page_rows(ctx, pages, repeat=repeat, prefix="releases")
    rows.append(
        floor_ratio_row(
            "releases list API ÷ floor (.values() as JSON)",
            team,
            API_URL,
            f"/{FLOOR_PREFIX}releases/demo/",
            repeat=repeat,
        )
    )
    return rows


def main(argv: list[str]) -> None:
    page_main("release_list", suite, argv)
