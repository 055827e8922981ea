"""A mixed read/write workload on the REST API and the public board, for locust.

Used by the soak (``make soak``, ``bench/soak.py``) and meant to be reused by the API
benchmark. Run it with locust (headless)::

    LOAD_CONFIG=config.json LOAD_LEDGER_DIR=out/ \\
      .venv/bin/locust -f bench/load/locustfile.py --headless -u 50 -r 10 -t 5m --host http://127.0.0.1:8000

Inputs (environment):

- ``LOAD_CONFIG`` (required): a JSON file ``{"run": "<id>", "workspace": "<slug>",
  "tokens": ["po_...", ...]}``. Every token needs the ``read`` and ``write`` scopes and a
  role of contributor or above. Simulated user *n* takes token *n* modulo the pool, so a
  pool as large as ``-u`` gives each client its own token (and, with a user per token,
  its own throttle bucket: the API throttles per user).
- ``LOAD_LEDGER_DIR`` (optional): where each locust process writes ``ledger-<pid>.json``
  when the run stops: every write the server acknowledged, the largest response and the
  most rows per request name, any unbounded list found, and each request's time and
  outcome. ``bench/soak.py`` compares it with the database.
- ``LOAD_WAIT_MIN`` / ``LOAD_WAIT_MAX`` (seconds, default 1 / 3): think time between
  a client's requests. 0 / 0 drives the server as fast as it answers.
- ``LOAD_MAX_BYTES`` (default 1,000,000): a larger response is counted as a failure.

Tasks are tagged ``read``, ``write`` and ``board`` (``--tags`` / ``--exclude-tags``). The
weights make about 80 % reads and 20 % writes. Every write carries a marker unique to the
run, the client and its sequence number, so a write stored twice or acknowledged and then
missing can be found in the database. Each client writes its own feature and its own
feedback items (and votes as its own contact), so each acknowledged value has a single
writer: the stored value must be the last one acknowledged.

A 4xx or 5xx answer (429 included) is a failure, except the documented 200 of a repeated
vote. A paginated list whose page holds more rows than asked (or than the cap of 200), a
roadmap group with more than 50 features, a board page with more than 30 features or a
changelog page with more than 10 releases is a failure too ("unbounded").
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, tag, task

PAGE_CAP = 200  # the API's maximum page size (docs/api.md, Pagination)
ROADMAP_GROUP_CAP = 50  # features per horizon group in GET .../roadmap/
OPEN_STATUSES = ("idea", "under_consideration", "planned", "in_progress")
IMPORTANCES = ("nice_to_have", "important", "critical")
KINDS = ("request", "problem", "question")
SEARCH_WORDS = ("export", "sso", "report", "slack", "mobile", "api", "dashboard", "billing")
PHRASES = (
    "We need to export the weekly report to CSV for our finance team",
    "Single sign-on with Okta is a blocker for our security review",
    "The dashboard is slow to load when we have many projects",
    "Please add a Slack notification when a feature ships",
    "Our admins want a mobile app to approve requests on the go",
    "The API should let us filter by updated date",
    "Billing page does not show the invoice history",
    "Bulk edit of tags would save us hours every week",
)
# Rows an HTML page may list: the board's page of 30 features (board/views/public.py) and the
# changelog's 10 releases (releases.selectors.CHANGELOG_PAGE_SIZE). The board's roadmap page
# has no cap; its count is recorded, not checked.
HTML_CAPS = {"board home": 30, "changelog": 10}
BOARD_FEATURE_LINK = re.compile(rb"/p/[-\w]+/features/(\d+)/")
CHANGELOG_RELEASE_LINK = re.compile(rb"/p/[-\w]+/changelog/releases/([0-9a-f-]{36})/")


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def _load_config() -> dict[str, Any]:
    path = os.environ.get("LOAD_CONFIG")
    if not path:
        raise RuntimeError("LOAD_CONFIG must name the JSON file with run, workspace and tokens.")
    config = json.loads(Path(path).read_text())
    if not config.get("tokens"):
        raise RuntimeError(f"{path}: no tokens.")
    return config


CONFIG = _load_config()
RUN = str(CONFIG.get("run") or uuid.uuid4().hex[:8])
WS = f"/api/v1/workspaces/{CONFIG['workspace']}"
BOARD = f"/p/{CONFIG.get('board', CONFIG['workspace'])}"
MAX_BYTES = int(_env_float("LOAD_MAX_BYTES", 1_000_000))
_client_numbers = itertools.count()


class Ledger:
    """What this locust process saw: acknowledged writes, response sizes, each request's time."""

    def __init__(self) -> None:
        self.started = time.time()
        self.feedback: list[dict[str, Any]] = []  # {"id", "marker"}
        self.votes: dict[tuple[int, int], int] = {}  # (contact, feature) -> vote id
        self.vote_created = 0  # 201 answers (200 means "already voted")
        self.links: dict[tuple[int, int], str] = {}  # (item, feature) -> last importance acknowledged
        self.features: dict[int, dict[str, Any]] = {}  # own feature -> last acknowledged fields
        self.contacts: list[int] = []
        self.max_bytes: dict[str, int] = defaultdict(int)
        self.max_rows: dict[str, int] = defaultdict(int)  # list rows, or links on an HTML page
        self.unbounded: list[str] = []
        self.retried: dict[str, int] = {}
        self.retried_errors: list[str] = []
        self.unbounded_count = 0
        # (seconds since the start, response time in ms, 1 when it succeeded): the soak takes
        # p95 over any window from these.
        self.samples: list[tuple[float, float, int]] = []
        self.statuses: dict[str, int] = defaultdict(int)

    def retried_write(self, name: str, error: str) -> None:
        self.retried[name] = self.retried.get(name, 0) + 1
        if len(self.retried_errors) < 10:
            self.retried_errors.append(f"{name}: {error}")

    def unbounded_found(self, what: str) -> None:
        self.unbounded_count += 1
        if len(self.unbounded) < 20:
            self.unbounded.append(what)

    def as_json(self) -> dict[str, Any]:
        return {
            "run": RUN,
            "pid": os.getpid(),
            "started": self.started,
            "feedback": self.feedback,
            "votes": [{"contact": c, "feature": f, "id": i} for (c, f), i in self.votes.items()],
            "vote_created": self.vote_created,
            "links": [{"item": i, "feature": f, "importance": imp} for (i, f), imp in self.links.items()],
            "features": {str(k): v for k, v in self.features.items()},
            "contacts": self.contacts,
            "max_bytes": dict(self.max_bytes),
            "max_rows": dict(self.max_rows),
            "unbounded": self.unbounded,
            "unbounded_count": self.unbounded_count,
            "retried": self.retried,
            "retried_errors": self.retried_errors,
            "samples": self.samples,
            "statuses": dict(self.statuses),
        }


LEDGER = Ledger()


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    LEDGER.started = time.time()


@events.request.add_listener
def _on_request(name, response_time, response_length, exception, response=None, **kwargs) -> None:
    elapsed = round(time.time() - LEDGER.started, 2)
    LEDGER.samples.append((elapsed, round(response_time, 1), 0 if exception is not None else 1))
    if exception is not None:
        status = getattr(response, "status_code", None) if response is not None else None
        LEDGER.statuses[str(status or "connection_error")] += 1
    if response_length and response_length > LEDGER.max_bytes[name]:
        LEDGER.max_bytes[name] = response_length


def _write_ledger() -> None:
    directory = os.environ.get("LOAD_LEDGER_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    path = Path(directory) / f"ledger-{os.getpid()}.json"
    path.write_text(json.dumps(LEDGER.as_json()))


@events.test_stop.add_listener
def _on_test_stop(environment, **kwargs) -> None:
    _write_ledger()


@events.quit.add_listener
def _on_quit(exit_code, **kwargs) -> None:
    # Again at exit: a request still running at the stop may end after test_stop.
    _write_ledger()


class ApiClient(FastHttpUser):
    """One integration or team member: an API token of its own, reading much, writing some."""

    wait_time = between(_env_float("LOAD_WAIT_MIN", 1.0), _env_float("LOAD_WAIT_MAX", 3.0))
    # Keep-alive connections; a client that times out is an error, not a hang.
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.number = next(_client_numbers)
        token = CONFIG["tokens"][self.number % len(CONFIG["tokens"])]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.seq = 0
        self.feature_ids: list[int] = []
        self.open_feature_ids: list[int] = []
        self.own_items: list[int] = []
        self.board_features: list[str] = []
        self.releases: list[str] = []
        self.own_feature: int | None = None
        self.contact: int | None = None
        self._bootstrap()

    # --- helpers ---------------------------------------------------------------

    def _marker(self) -> str:
        self.seq += 1
        return f"soak-{RUN}-c{self.number}-{self.seq}"

    def _get_json(self, path: str, name: str, *, page_size: int | None = None, roadmap: bool = False):
        """GET an API path; check that a list is bounded. Answers the parsed body or None."""
        with self.client.get(path, headers=self.auth, name=name, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return None
            if len(resp.content or b"") > MAX_BYTES:
                LEDGER.unbounded_found(f"{name}: {len(resp.content)} bytes")
                resp.failure("response too large")
                return None
            try:
                body = resp.json()
            except ValueError:
                resp.failure("not JSON")
                return None
            if isinstance(body, dict) and isinstance(body.get("results"), list):
                LEDGER.max_rows[name] = max(LEDGER.max_rows[name], len(body["results"]))
            problem = self._unbounded(body, page_size=page_size, roadmap=roadmap)
            if problem:
                LEDGER.unbounded_found(f"{name}: {problem}")
                resp.failure(f"unbounded: {problem}")
                return None
            resp.success()
            return body

    @staticmethod
    def _unbounded(body: Any, *, page_size: int | None, roadmap: bool) -> str | None:
        if roadmap:
            for group in ("now", "next", "later", "unscheduled"):
                features = (body.get(group) or {}).get("features", [])
                if len(features) > ROADMAP_GROUP_CAP:
                    return f"group {group} has {len(features)} features"
                if body[group]["count"] > len(features) and not body[group].get("more"):
                    return f"group {group} truncated without a 'more' link"
            return None
        if page_size is None:
            return None
        if not isinstance(body, dict) or "results" not in body:
            return "a list without pagination"
        expected = min(page_size, PAGE_CAP)
        if len(body["results"]) > expected:
            return f"{len(body['results'])} rows for page_size={page_size}"
        if body.get("next") and len(body["results"]) != expected:
            return f"a short page ({len(body['results'])}) with a next page"
        return None

    def _get_page(self, path: str, name: str, link: re.Pattern[bytes] | None = None) -> list[str] | None:
        """GET an HTML page; answers the distinct ids ``link`` finds on it (its rows)."""
        with self.client.get(path, name=name, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return None
            content = resp.content or b""
            if len(content) > MAX_BYTES:
                LEDGER.unbounded_found(f"{name}: {len(content)} bytes")
                resp.failure("response too large")
                return None
            rows = sorted({m.decode() for m in link.findall(content)}) if link else []
            if link is not None:
                LEDGER.max_rows[name] = max(LEDGER.max_rows[name], len(rows))
            cap = HTML_CAPS.get(name)
            if cap is not None and len(rows) > cap:
                LEDGER.unbounded_found(f"{name}: {len(rows)} rows")
                resp.failure(f"unbounded: {len(rows)} rows")
                return None
            resp.success()
            return rows

    def _write(
        self,
        method: str,
        path: str,
        name: str,
        body: dict,
        ok: tuple[int, ...] = (201,),
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> tuple[int, Any] | None:
        """Send a write; answers (status, parsed body) when acknowledged, else None.

        ``retry``: the write is safe to repeat (an ``Idempotency-Key``, or a vote, link or
        PATCH that converges), so a connection that closed (or timed out) before any answer
        is retried once with the same body, as an HTTP client does for a GET (RFC 9112 §9.3.1: a kept-alive
        connection may close just as a request is sent). The attempt shows in the stats
        under ``<name> (connection closed, retried)`` and in the ledger's ``retried``;
        a second failure is a failure."""
        headers = {**self.auth, **(headers or {})}
        request = self.client.request
        for attempt in (1, 2):
            with request(method, path, json=body, headers=headers, name=name, catch_response=True) as resp:
                if resp.status_code == 0 and retry and attempt == 1:
                    LEDGER.retried_write(name, repr(getattr(resp, "error", None)))
                    resp.request_meta["name"] = f"{name} (connection closed, retried)"
                    resp.success()
                    continue
                if resp.status_code not in ok:
                    resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                    return None
                try:
                    parsed = resp.json()
                except ValueError:
                    resp.failure("not JSON")
                    return None
                resp.success()
                return resp.status_code, parsed
        return None

    def _bootstrap(self) -> None:
        """What a client loads first: the open features, a product, its own contact and feature."""
        body = self._get_json(
            f"{WS}/features/?page_size={PAGE_CAP}&" + "&".join(f"status={s}" for s in OPEN_STATUSES),
            "features (bootstrap)",
            page_size=PAGE_CAP,
        )
        if body:
            self.open_feature_ids = [f["id"] for f in body["results"] if not f.get("merged_into")]
            self.feature_ids = list(self.open_feature_ids)
            products = sorted({f["product"] for f in body["results"]})
        else:
            products = []
        marker = self._marker()
        acked = self._write(
            "POST",
            f"{WS}/contacts/",
            "contacts (create)",
            {"email": f"{marker}@soak.example.com", "name": f"Soak client {self.number}"},
        )
        if acked:
            self.contact = acked[1]["id"]
            LEDGER.contacts.append(self.contact)
        if products:
            marker = self._marker()
            acked = self._write(
                "POST",
                f"{WS}/features/",
                "features (create)",
                {"title": f"Soak feature {marker}", "product": products[0], "description": marker},
            )
            if acked:
                self.own_feature = acked[1]["id"]
                LEDGER.features[self.own_feature] = {"description": marker, "reach": acked[1].get("reach")}
                self.open_feature_ids.append(self.own_feature)
                self.feature_ids.append(self.own_feature)

    def _any_feature(self) -> int | None:
        return random.choice(self.feature_ids) if self.feature_ids else None

    # --- reads (about 80 %) -------------------------------------------------------

    @tag("read")
    @task(12)
    def features_list(self) -> None:
        query = random.choice(
            [
                "",
                "&ordering=-priority_score",
                "&status=planned&status=in_progress",
                f"&search={random.choice(SEARCH_WORDS)}",
                "&horizon=now",
            ]
        )
        page_size = random.choice([20, 50, 100])
        body = self._get_json(f"{WS}/features/?page_size={page_size}{query}", "features", page_size=page_size)
        if body and not query:
            ids = [f["id"] for f in body["results"]]
            if ids:
                self.feature_ids = sorted(set(self.feature_ids) | set(ids))

    @tag("read")
    @task(9)
    def feature_detail(self) -> None:
        feature = self._any_feature()
        if feature is not None:
            self._get_json(f"{WS}/features/{feature}/", "features/{id}")

    @tag("read")
    @task(8)
    def priority_explanation(self) -> None:
        feature = self._any_feature()
        if feature is not None:
            self._get_json(f"{WS}/features/{feature}/score/", "features/{id}/score")

    @tag("read")
    @task(8)
    def feedback_list(self) -> None:
        # 500 is above the cap: the page must still hold at most 200 rows.
        page_size = random.choice([20, 50, 50, 500])
        self._get_json(f"{WS}/feedback/?page_size={page_size}", "feedback", page_size=page_size)

    @tag("read")
    @task(6)
    def feedback_search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        self._get_json(f"{WS}/feedback/?search={word}&page_size=50", "feedback?search", page_size=50)

    @tag("read")
    @task(5)
    def releases(self) -> None:
        self._get_json(f"{WS}/releases/?page_size=50", "releases", page_size=50)

    @tag("read")
    @task(4)
    def roadmap(self) -> None:
        self._get_json(f"{WS}/roadmap/?group_by=horizon", "roadmap?group_by=horizon", roadmap=True)

    @tag("read")
    @task(2)
    def votes_list(self) -> None:
        self._get_json(f"{WS}/votes/?page_size=50", "votes", page_size=50)

    # --- the public board and changelog (anonymous visitors) ------------------------

    @tag("read", "board")
    @task(6)
    def board_home(self) -> None:
        sort = random.choice(["top", "top", "new"])
        found = self._get_page(f"{BOARD}/?sort={sort}", "board home", BOARD_FEATURE_LINK)
        if found:
            self.board_features = found

    @tag("read", "board")
    @task(4)
    def board_feature(self) -> None:
        if self.board_features:
            feature = random.choice(self.board_features)
            self._get_page(f"{BOARD}/features/{feature}/", "board feature")

    @tag("read", "board")
    @task(2)
    def board_roadmap(self) -> None:
        self._get_page(f"{BOARD}/roadmap/", "board roadmap", BOARD_FEATURE_LINK)

    @tag("read", "board")
    @task(4)
    def changelog(self) -> None:
        found = self._get_page(f"{BOARD}/changelog/", "changelog", CHANGELOG_RELEASE_LINK)
        if found:
            self.releases = found

    @tag("read", "board")
    @task(1)
    def changelog_release(self) -> None:
        if self.releases:
            self._get_page(f"{BOARD}/changelog/releases/{random.choice(self.releases)}/", "changelog release")

    # --- writes (about 20 %) --------------------------------------------------------

    @tag("write")
    @task(7)
    def create_feedback(self) -> None:
        marker = self._marker()
        body: dict[str, Any] = {
            "text": f"{random.choice(PHRASES)} ({marker})",
            "source_ref": marker,
            "kind": random.choice(KINDS),
            "importance": random.choice(IMPORTANCES),
        }
        if self.contact is not None:
            body["contact"] = self.contact
        headers = {"Idempotency-Key": marker}
        acked = self._write("POST", f"{WS}/feedback/", "feedback (create)", body, headers=headers, retry=True)
        if acked:
            LEDGER.feedback.append({"id": acked[1]["id"], "marker": marker})
            self.own_items.append(acked[1]["id"])

    @tag("write")
    @task(5)
    def vote(self) -> None:
        feature = random.choice(self.open_feature_ids) if self.open_feature_ids else None
        if feature is None or self.contact is None:
            return
        body = {"contact": self.contact, "feature": feature}
        acked = self._write("POST", f"{WS}/votes/", "votes (create)", body, ok=(200, 201), retry=True)
        if acked:
            status, vote = acked
            key = (self.contact, feature)
            if status == 201:
                LEDGER.vote_created += 1
            LEDGER.votes[key] = vote["id"]

    @tag("write")
    @task(4)
    def link(self) -> None:
        feature = random.choice(self.open_feature_ids) if self.open_feature_ids else None
        if not self.own_items or feature is None:
            return
        item = random.choice(self.own_items)
        importance = random.choice(IMPORTANCES)
        acked = self._write(
            "POST",
            f"{WS}/feedback/{item}/links/",
            "feedback/{id}/links (create)",
            {"feature": feature, "importance": importance},
            retry=True,
        )
        if acked:
            LEDGER.links[(item, feature)] = importance

    @tag("write")
    @task(4)
    def update_feature(self) -> None:
        if self.own_feature is None:
            return
        marker = self._marker()
        reach = random.randint(10, 5000)
        description = f"Updated by the soak: {marker}"
        acked = self._write(
            "PATCH",
            f"{WS}/features/{self.own_feature}/",
            "features/{id} (update)",
            {"description": description, "reach": reach},
            ok=(200,),
            retry=True,
        )
        if acked:
            LEDGER.features[self.own_feature] = {"description": description, "reach": reach}


# --- the API benchmark's mix (bench/api_load.py) ----------------------------------------------
#
# ``LOAD_PROFILE=api_load`` makes ``ApiLoadClient`` a runnable user class (otherwise it is
# abstract, so the soak, which names no class, never spawns it); run it by name:
# ``locust -f bench/load/locustfile.py ApiLoadClient``. It follows a schedule of phases
# (``LOAD_PHASES="warm:2,mix:20,app:10,floor:10,..."``, seconds, from the test's start):
#
# - ``warm``: the mix and both list pages, under names prefixed ``warm: `` (not reported);
# - ``mix``: the benchmark's mix, back to back (no think time);
# - ``app`` / ``floor``: only the features page of the app (``CONFIG["ratio_app"]``) or of
#   the floor (``CONFIG["ratio_floor"]``), named ``ratio app #n`` / ``ratio floor #n``.
#
# Every request's (name, end time since the start, response time, ok) goes to the JSON file
# ``LOAD_REQUEST_LOG`` when the run stops, for bench/api_load.py to compute its figures.

API_LOAD = os.environ.get("LOAD_PROFILE") == "api_load"


def _phases(text: str) -> list[tuple[str, float, float]]:
    """``"warm:2,mix:20,app:10"`` → [(kind, start, end)], with ``#n`` counted per kind."""
    phases, clock, counts = [], 0.0, defaultdict(int)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, seconds = part.split(":")
        counts[kind] += 1
        phases.append((f"{kind} #{counts[kind]}", clock, clock + float(seconds)))
        clock += float(seconds)
    return phases


PHASES = _phases(os.environ.get("LOAD_PHASES", "")) if API_LOAD else []
_api_load_clock = {"t0": time.monotonic()}
API_LOAD_REQUESTS: list[tuple[str, float, float, int]] = []


def current_phase() -> str:
    """The phase the schedule is in now (``"done"`` after its end)."""
    now = time.monotonic() - _api_load_clock["t0"]
    for name, start, end in PHASES:
        if start <= now < end:
            return name
    return "done"


if API_LOAD:

    @events.test_start.add_listener
    def _api_load_start(environment, **kwargs) -> None:
        _api_load_clock["t0"] = time.monotonic()

    API_LOAD_ERRORS: dict[str, int] = defaultdict(int)

    @events.request.add_listener
    def _api_load_request(name, response_time, exception, **kwargs) -> None:
        ended = round(time.monotonic() - _api_load_clock["t0"], 3)
        API_LOAD_REQUESTS.append((name, ended, round(response_time, 2), 0 if exception is not None else 1))
        if exception is not None:
            API_LOAD_ERRORS[f"{name}: {str(exception)[:160]}"] += 1

    @events.quit.add_listener
    def _api_load_quit(exit_code, **kwargs) -> None:
        path = os.environ.get("LOAD_REQUEST_LOG")
        if path:
            body = {"phases": PHASES, "requests": API_LOAD_REQUESTS, "errors": dict(API_LOAD_ERRORS)}
            Path(path).write_text(json.dumps(body))


#: The features list as the benchmark asks for it: by priority, with the filters a client uses.
PRIORITY_QUERIES = (
    "ordering=priority_rank",
    "ordering=priority_rank&status=planned&status=in_progress",
    "ordering=-priority_score&horizon=now",
    "ordering=-priority_score&is_public=true",
)


class ApiLoadClient(ApiClient):
    """The API benchmark's client: the soak's client, without think time, on a schedule."""

    abstract = not API_LOAD
    wait_time = between(0, 0)

    def _label(self, name: str) -> str:
        return f"warm: {name}" if self.phase.startswith("warm") else name

    # The soak client's helpers, with the warm phase's requests under names of their own.
    def _get_json(self, path: str, name: str, **kwargs: Any):
        return super()._get_json(path, self._label(name), **kwargs)

    def _get_page(self, path: str, name: str, link: re.Pattern[bytes] | None = None):
        return super()._get_page(path, self._label(name), link)

    def _write(self, method: str, path: str, name: str, body: dict, **kwargs: Any):
        return super()._write(method, path, self._label(name), body, **kwargs)

    def on_start(self) -> None:
        self.phase = "warm #1"
        super().on_start()

    def features_by_priority(self) -> None:
        query = random.choice(PRIORITY_QUERIES)
        self._get_json(f"{WS}/features/?{query}&page_size=50", "features?ordering=priority", page_size=50)

    def ratio_page(self, which: str) -> None:
        """The features page of the app (with the client's token) or of the floor (anonymous)."""
        headers = self.auth if which == "app" else {}
        url, name = CONFIG[f"ratio_{which}"], f"ratio {self.phase}"
        with self.client.get(url, headers=headers, name=name, catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")

    #: (weight, task) of the mix: reads about 80 %, writes 20 %.
    MIX = (
        (10, features_by_priority),
        (6, ApiClient.feature_detail),
        (4, ApiClient.priority_explanation),
        (5, ApiClient.feedback_search),
        (2, ApiClient.roadmap),
        (3, ApiClient.board_home),
        (3, ApiClient.create_feedback),
        (2, ApiClient.vote),
        (2, ApiClient.link),
    )

    def step(self) -> None:
        self.phase = current_phase()
        if self.phase.startswith(("app", "floor")):
            self.ratio_page(self.phase.split()[0])
        elif self.phase == "done":
            time.sleep(0.1)
        elif self.phase.startswith("warm") and random.random() < 0.3:
            self.ratio_page(random.choice(["app", "floor"]))
        else:
            weights, tasks = zip(*self.MIX, strict=True)
            random.choices(tasks, weights=weights)[0](self)


# Only the schedule (the metaclass collected the soak client's tasks too).
ApiLoadClient.tasks = [ApiLoadClient.step]
