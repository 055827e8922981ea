"""The public board's home page, anonymous: the page most likely to be hit hard.

    python -m bench board_home [--scale 1] [--repeat 15]

Rows (``bench/pages.py``): the page's median server time (< 200 ms) and query count
(the same after a top-up to ``scale + 1``), and its ratio to the floor: the same first
page of 30 features (fields and order of the page) from ``.values()`` as JSON, no
template, through the same middleware, interleaved with the page in the same run
(informational: the issue sets no target for it).
"""

from __future__ import annotations

import argparse

from bench.pages import FLOOR_PREFIX, Page, page_rows, production_env, visitor_client, with_floors
from bench.results import Row, SuiteContext, interleaved, ratio_row
from bench.setup import django_for_bench

REPEAT = {"small": 9, "full": 21}
URL = "/p/demo/"


def suite(ctx: SuiteContext, repeat: int | None = None) -> list[Row]:
    repeat = repeat or REPEAT[ctx.size]
    visitor = visitor_client()
    rows = page_rows(ctx, [Page("home (anonymous)", visitor, URL)], repeat=repeat, prefix="board")
    floor_url = f"/{FLOOR_PREFIX}board/demo/"
    with with_floors():
        for url in (URL, floor_url):
            response = visitor.get(url)  # warm both
            if response.status_code != 200:
                raise AssertionError(f"GET {url}: {response.status_code}")
        page, floor = interleaved(lambda: visitor.get(URL), lambda: visitor.get(floor_url), repeat=repeat)
    rows.append(ratio_row("board home (anonymous) ÷ floor (.values() as JSON)", page, floor))
    return rows


def main(argv: list[str]) -> None:
    from bench.suite import render_table, standalone_context

    parser = argparse.ArgumentParser(prog="python -m bench board_home")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    production_env()
    django_for_bench()
    ctx = standalone_context(scale=args.scale)
    print(render_table(suite(ctx, repeat=args.repeat)))
