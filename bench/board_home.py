"""The public board's home page, anonymous: the page most likely to be hit hard.

    python -m bench board_home [--scale 1] [--repeat 15]

Rows (``bench/pages.py``): the page's median server time (< 200 ms) and query count
(the same after a top-up to ``scale + 1``), and its ratio to the floor: the same first
page of 30 features (fields and order of the page) from ``.values()`` as JSON, no
template, through the same middleware, interleaved with the page in the same run
(informational: the issue sets no target for it).
"""

from __future__ import annotations

from bench.pages import (
    FLOOR_PREFIX,
    Page,
    floor_ratio_row,
    page_main,
    page_rows,
    visitor_client,
)
from bench.results import Row, SuiteContext

REPEAT = {"small": 9, "full": 21}
URL = "/p/demo/"


def suite(ctx: SuiteContext, repeat: int | None = None) -> list[Row]:
    repeat = repeat or REPEAT[ctx.size]
    visitor = visitor_client()
    rows = page_rows(ctx, [Page("home (anonymous)", visitor, URL)], repeat=repeat, prefix="board")
    rows.append(
        floor_ratio_row(
            "board home (anonymous) ÷ floor (.values() as JSON)",
            visitor,
            URL,
            f"/{FLOOR_PREFIX}board/demo/",
            repeat=repeat,
        )
    )
    return rows


def main(argv: list[str]) -> None:
    page_main("board_home", suite, argv)
