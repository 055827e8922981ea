"""Smoke test: a client generated from the live schema by openapi-python-client works.

A mainstream third-party generator turns ``/api/schema/?format=json`` into a Python
package; the package then walks the life cycle a real integrator would on every
resource (create, list page by page, read, update, delete) and calls every report and
action once, against the Django WSGI app in process (httpx's ``WSGITransport``, no
server). Every call must answer the status the walk expects (a 2xx; the one exception is
the documented 301 of a merged object's detail) and the generated client must parse the
body into its generated model. A parse error (``ValueError`` from an enum, ``KeyError``
for a missing field, ``TypeError``...) is reported with the operation, the generated
model and line that failed, and the body.

How it is organised:

- ``generated``: the schema, the generator run (its warnings collected and classified)
  and the imported package with its operations, discovered from its ``api/`` modules.
- ``walk``: seeds a workspace with the app's services (an owner, a second member, an
  invitee, and the owner's read+write token), then :class:`Walk` makes every call and
  collects every problem instead of stopping at the first, so one run reports them all.
  It runs inside a transaction that is rolled back afterwards.
- The tests: the generator skipped nothing; every call answered and parsed; no response
  carried fields the schema does not declare; every generated operation was called (but
  the commented ``SKIPPED_OPERATIONS``).

Run: ``.venv/bin/python -m pytest -m contract tests/contract/test_generated_client.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import io
import json
import pkgutil
import re
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client as DjangoClient
from django.utils.crypto import get_random_string

from feedback import services as feedback_services
from priority import services as priority_services
from productops import services as core_services
from productops.models import Invitation, Role, User

pytestmark = pytest.mark.contract

BASE_URL = "http://testserver"  # ALLOWED_HOSTS of the test settings
PACKAGE = "productops_api_client"
WORKSPACE_SLUG = "generated-client"
GENERATOR_TIMEOUT_SECONDS = 120
BODY_EXCERPT = 800

# The generator's own options (a config file, as its docs describe):
# - no post hooks: by default it runs `ruff` on the output, which is neither needed to
#   import the package nor necessarily on PATH (it warns "Skipping Integration").
# - `message/rfc822` read as raw bytes: the generator knows no such content type and
#   would skip `POST .../feedback/inbound-email/` altogether; as bytes it generates the
#   operation with a `File` body sent as `message/rfc822` (what the API takes).
GENERATOR_CONFIG = {
    "post_hooks": [],
    "content_type_overrides": {"message/rfc822": "application/octet-stream"},
}

# Generator warnings that lose nothing a client needs, each with why.
ALLOWED_GENERATOR_WARNINGS = {
    # inbound-email takes `message/rfc822` or `text/plain`; the generator drops the
    # `text/plain` alternative (it cannot send a str body) and keeps the first.
    (
        "WARNING parsing POST /api/v1/workspaces/{workspace_slug}/feedback/inbound-email/ within feedback.",
        "Unsupported content type text/plain",
    ),
}

# Generated operations this walk does not call, each with why. Everything else must be
# called at least once (see test_every_generated_operation_is_exercised).
SKIPPED_OPERATIONS: dict[str, str] = {
    # Nothing: the session-only operations (workspace create/delete, token create,
    # invitation accept) run through a generated `Client` carrying a session cookie and
    # CSRF token, and the inbound webhook delivery is signed here with the webhook's
    # secret. Add an operation here only with the reason it cannot run in this test.
}


# --- generation -------------------------------------------------------------------------

_HEADER = re.compile(
    r"^(WARNING parsing |Unable to |Problem creating |Skipping Integration|Failed to parse |"
    r"Invalid (JSON|YAML) |Endpoint requires a body|Enum values must|Unsupported enum type|"
    r"Conflicting property names|Found conflicting properties|invalid data in items|.+ failed$)"
)


@dataclass(frozen=True)
class GeneratorWarning:
    header: str
    detail: str

    @property
    def fatal(self) -> bool:
        return (self.header, self.detail) not in ALLOWED_GENERATOR_WARNINGS

    @property
    def meaning(self) -> str:
        if "Endpoint will not be generated" in self.header:
            return "operation skipped"
        if self.header.startswith(("Unable to parse schema", "Unable to process schema")):
            return "model skipped"
        if self.header.startswith("Unable to parse parameter"):
            return "parameter skipped"
        if self.header.startswith("WARNING parsing"):
            return "part of an operation skipped"
        return "warning"

    def __str__(self) -> str:
        return f"[{self.meaning}] {self.header} -- {self.detail}"


def parse_generator_warnings(stderr: str) -> list[GeneratorWarning]:
    """The warnings openapi-python-client printed: a header, then its detail (and the
    offending part of the document as JSON), blocks separated by blank lines."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("Warning(s)", "Error(s)"))), None)
    if start is None:
        return []
    lines = lines[start + 1 :]
    lines = [line for line in lines if not line.startswith("If you believe this was a mistake")]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    found: list[list[str]] = []
    for paragraph in paragraphs:
        if paragraph.startswith(("{", "[")):  # the document's offending part
            continue
        if _HEADER.match(paragraph) or not found:
            found.append([paragraph.splitlines()[0], "\n".join(paragraph.splitlines()[1:])])
        else:
            found[-1][1] = "\n".join(part for part in (found[-1][1], paragraph) if part)
    return [GeneratorWarning(header=header, detail=detail.strip()) for header, detail in found]


@dataclass
class Generated:
    package: ModuleType
    operations: dict[str, ModuleType]  # module name (the operation id) -> module
    warnings: list[GeneratorWarning]
    returncode: int
    output: str
    seconds: float


def _discover_operations(package: ModuleType) -> dict[str, ModuleType]:
    api = importlib.import_module(f"{package.__name__}.api")
    operations: dict[str, ModuleType] = {}
    for tag in pkgutil.iter_modules(api.__path__):
        tag_package = importlib.import_module(f"{api.__name__}.{tag.name}")
        for module_info in pkgutil.iter_modules(tag_package.__path__):
            module = importlib.import_module(f"{tag_package.__name__}.{module_info.name}")
            if hasattr(module, "sync_detailed"):
                operations[module_info.name] = module
    return operations


@pytest.fixture(scope="module")
def generated(tmp_path_factory, django_db_setup, django_db_blocker) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated_client")
    with django_db_blocker.unblock():
        response = DjangoClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:BODY_EXCERPT]
    schema_path = root / "openapi.json"
    schema_path.write_bytes(response.content)
    config_path = root / "generator-config.json"
    config_path.write_text(json.dumps(GENERATOR_CONFIG))
    executable = Path(sys.executable).parent / "openapi-python-client"
    started = time.monotonic()
    completed = subprocess.run(
        [
            str(executable),
            "generate",
            "--path",
            str(schema_path),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config_path),
        ],
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT_SECONDS,
        check=False,
        cwd=root,
    )
    seconds = time.monotonic() - started
    output = f"{completed.stdout}\n{completed.stderr}"
    assert completed.returncode == 0, f"openapi-python-client failed:\n{output[-4000:]}"
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        yield Generated(
            package=package,
            operations=_discover_operations(package),
            warnings=parse_generator_warnings(completed.stderr),
            returncode=completed.returncode,
            output=output,
            seconds=seconds,
        )
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


# --- the walk ---------------------------------------------------------------------------


@dataclass
class Problem:
    operation: str
    kind: str  # parse | status | undocumented_status | wrong_model | undocumented_field | crash | missing
    detail: str
    body: str = ""

    def __str__(self) -> str:
        text = f"- {self.operation} [{self.kind}]: {self.detail}"
        if self.body:
            text += f"\n    body: {self.body[:BODY_EXCERPT]}"
        return text


@dataclass
class Result:
    """One call: what the generated client parsed, and the raw answer (for ids)."""

    operation: str
    status: int | None
    parsed: Any
    json: Any

    def __getitem__(self, key: str) -> Any:
        return self.json[key]


@dataclass
class WalkReport:
    calls: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def of_kind(self, *kinds: str, exclude: bool = False) -> list[Problem]:
        return [p for p in self.problems if (p.kind in kinds) != exclude]


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")


def _where_in_generated_code(exc: BaseException) -> str:
    """The innermost frame of the generated package: the model (file) and the line that failed."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"/{PACKAGE}/" in f.filename]
    if not frames:
        return ""
    last = frames[-1]
    relative = last.filename.split(f"/{PACKAGE}/", 1)[1]
    return f" at {relative}:{last.lineno} `{(last.line or '').strip()}`"


class Walk:
    """Every call the walk makes, through the generated client; problems are collected."""

    def __init__(self, generated: Generated, *, key: str, wsgi_app: Any) -> None:
        self.generated = generated
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        self.errors = importlib.import_module(f"{PACKAGE}.errors")
        self.client_module = importlib.import_module(f"{PACKAGE}.client")
        self.wsgi_app = wsgi_app
        self.report = WalkReport()
        self.last_response: httpx.Response | None = None
        self.client = self.client_module.AuthenticatedClient(
            base_url=BASE_URL, token=key, raise_on_unexpected_status=True, httpx_args=self._httpx_args()
        )
        # For the signed inbound webhook delivery: no credentials at all.
        self.anonymous = self.client_module.Client(
            base_url=BASE_URL, raise_on_unexpected_status=True, httpx_args=self._httpx_args()
        )
        self.ids: dict[str, Any] = {}

    def _httpx_args(self) -> dict[str, Any]:
        return {
            "transport": httpx.WSGITransport(app=self.wsgi_app),
            "event_hooks": {"response": [self._remember]},
        }

    def _remember(self, response: httpx.Response) -> None:
        response.read()  # so the body can be shown when the generated parsing fails
        self.last_response = response

    def session_client(self, user: User) -> Any:
        """A generated `Client` signed in as ``user`` by session, with a CSRF token."""
        django_client = DjangoClient()
        django_client.force_login(user)
        csrf = get_random_string(32)
        return self.client_module.Client(
            base_url=BASE_URL,
            cookies={
                settings.SESSION_COOKIE_NAME: django_client.cookies[settings.SESSION_COOKIE_NAME].value,
                settings.CSRF_COOKIE_NAME: csrf,
            },
            headers={"X-CSRFToken": csrf},
            raise_on_unexpected_status=True,
            httpx_args=self._httpx_args(),
        )

    # -- one call

    def problem(self, operation: str, kind: str, detail: str, body: str = "") -> None:
        self.report.problems.append(Problem(operation, kind, detail, body))

    def call(
        self,
        operation: str,
        expect: Any,
        *,
        status: int,
        client: Any = None,
        items: Any = None,
        **kwargs: Any,
    ) -> Result:
        """Call ``operation``'s ``sync_detailed``; check the status and the parsed type.

        ``expect`` is the generated model the body must parse into (None for no body, a
        list of ``items`` for a JSON array).
        """
        module = self.generated.operations.get(operation)
        if module is None:
            self.problem(operation, "missing", "the generated client has no such operation")
            return Result(operation, None, None, None)
        self.report.calls[operation] += 1
        self.last_response = None
        try:
            response = module.sync_detailed(client=client or self.client, **kwargs)
        except self.errors.UnexpectedStatus as exc:
            self.problem(
                operation,
                "undocumented_status",
                f"status {exc.status_code} is not among the operation's documented responses",
                _text(exc.content),
            )
            return Result(operation, exc.status_code, None, self._json(exc.content))
        except Exception as exc:
            raw = self.last_response
            body = _text(raw.content) if raw is not None else ""
            status_code = raw.status_code if raw is not None else None
            self.problem(
                operation,
                "parse",
                f"HTTP {status_code}: {type(exc).__name__}: {exc}{_where_in_generated_code(exc)}",
                body,
            )
            return Result(operation, status_code, None, self._json(raw.content if raw is not None else b""))
        result = Result(operation, int(response.status_code), response.parsed, self._json(response.content))
        body = _text(response.content)
        if result.status != status:
            self.problem(operation, "status", f"HTTP {result.status}, expected {status}", body)
            return result
        if expect is None:
            if response.content.strip():
                self.problem(operation, "wrong_model", "expected no body", body)
        elif expect is list:
            if not isinstance(response.parsed, list):
                self.problem(operation, "wrong_model", f"parsed {type(response.parsed).__name__}, not a list")
            elif not all(isinstance(item, items) for item in response.parsed):
                self.problem(operation, "wrong_model", f"list items are not all {items.__name__}", body)
        elif not isinstance(response.parsed, expect):
            self.problem(
                operation,
                "wrong_model",
                f"parsed {type(response.parsed).__name__}, expected {expect.__name__}",
                body,
            )
        else:
            for path, keys in _undocumented_fields(response.parsed, type(response.parsed).__name__):
                self.problem(
                    operation, "undocumented_field", f"{path} has fields the schema does not declare: {keys}"
                )
        return result

    @staticmethod
    def _json(content: bytes) -> Any:
        try:
            return json.loads(content) if content else None
        except ValueError:
            return None

    def pages(self, operation: str, expect: Any, **kwargs: Any) -> Result:
        """A list, one item a page, then its second page (by page number or cursor) if any."""
        first = self.call(operation, expect, status=200, page_size=1, **kwargs)
        next_url = first.json.get("next") if isinstance(first.json, dict) else None
        if next_url:
            query = parse_qs(urlsplit(next_url).query)
            if "cursor" in query:
                self.call(operation, expect, status=200, page_size=1, cursor=query["cursor"][0], **kwargs)
            elif "page" in query:
                self.call(operation, expect, status=200, page_size=1, page=int(query["page"][0]), **kwargs)
            else:
                self.problem(operation, "parse", f"`next` has neither page nor cursor: {next_url}")
        return first

    def run(self, *steps: Callable[[], None]) -> None:
        """Each step on its own: one that crashes (say, on an id a failed call never gave)
        is reported and the next still runs."""
        for step in steps:
            try:
                step()
            except Exception as exc:
                self.problem(
                    step.__name__,
                    "crash",
                    f"the walk step stopped: {type(exc).__name__}: {exc} "
                    f"(often a consequence of an earlier problem)",
                )


def _undocumented_fields(value: Any, path: str) -> Iterator[tuple[str, list[str]]]:
    """Keys a parsed model kept in ``additional_properties`` although it declares fields:
    fields the response has and the schema does not document."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _undocumented_fields(item, f"{path}[{index}]")
        return
    if not attrs.has(type(value)):
        return
    declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
    extra = getattr(value, "additional_properties", None) or {}
    if declared and extra:
        yield path, sorted(extra)
    for name in declared:
        yield from _undocumented_fields(getattr(value, name), f"{path}.{name}")
    for key, item in extra.items():
        yield from _undocumented_fields(item, f"{path}[{key!r}]")


# --- the steps: one per resource ----------------------------------------------------------


@dataclass
class People:
    owner: User
    member: User
    invitee: User


class ProductopsWalk(Walk):
    def __init__(self, generated: Generated, *, key: str, wsgi_app: Any, people: People, slug: str):
        super().__init__(generated, key=key, wsgi_app=wsgi_app)
        self.people = people
        self.slug = slug

    def all(self) -> None:
        self.run(
            self.workspaces,
            self.members,
            self.tokens,
            self.invitations,
            self.products,
            self.goals,
            self.key_results,
            self.initiatives,
            self.teams,
            self.team_capacities,
            self.scorecard_criteria,
            self.features,
            self.roadmap_reports,
            self.companies,
            self.contacts,
            self.feedback,
            self.feedback_channels,
            self.votes,
            self.inbound_webhooks,
            self.tombstones,
            self.audit_events,
        )

    # -- core

    def workspaces(self) -> None:
        m, slug = self.models, self.slug
        self.pages("v1_workspaces_list", m.PaginatedWorkspaceOutputList)
        self.call("v1_workspaces_retrieve", m.WorkspaceOutput, status=200, workspace_slug=slug)
        self.call(
            "v1_workspaces_partial_update",
            m.WorkspaceOutput,
            status=200,
            workspace_slug=slug,
            body=m.PatchedWorkspaceUpdateInputRequest(
                name="Generated Client Co",
                reporting_currency="EUR",
                currency_rates=m.PatchedWorkspaceUpdateInputRequestCurrencyRates.from_dict({"USD": "0.92"}),
            ),
        )
        # Session only: create a workspace, then delete it.
        session = self.session_client(self.people.owner)
        self.call(
            "v1_workspaces_create",
            m.WorkspaceOutput,
            status=201,
            client=session,
            body=m.WorkspaceCreateInputRequest(name="Generated scratch", slug="generated-scratch"),
        )
        self.call(
            "v1_workspaces_destroy", None, status=204, client=session, workspace_slug="generated-scratch"
        )

    def members(self) -> None:
        m, slug = self.models, self.slug
        self.pages("v1_workspaces_members_list", m.PaginatedMembershipOutputList, workspace_slug=slug)
        listed = self.call(
            "v1_workspaces_members_list",
            m.PaginatedMembershipOutputList,
            status=200,
            workspace_slug=slug,
            role=m.V1WorkspacesMembersListRole.CONTRIBUTOR,
        )
        self.ids["member"] = listed["results"][0]["id"]
        everyone = self.call(
            "v1_workspaces_members_list",
            m.PaginatedMembershipOutputList,
            status=200,
            workspace_slug=slug,
            search=self.people.owner.username,
        )
        self.call(
            "v1_workspaces_members_retrieve",
            m.MembershipOutput,
            status=200,
            workspace_slug=slug,
            id=everyone["results"][0]["id"],
        )
        self.call(
            "v1_workspaces_members_partial_update",
            m.MembershipOutput,
            status=200,
            workspace_slug=slug,
            id=self.ids["member"],
            body=m.PatchedMembershipUpdateInputRequest(role=m.RoleEnum.PRODUCT_MANAGER),
        )

    def tokens(self) -> None:
        m, slug = self.models, self.slug
        listed = self.pages("v1_workspaces_tokens_list", m.PaginatedApiTokenOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_tokens_retrieve",
            m.ApiTokenOutput,
            status=200,
            workspace_slug=slug,
            id=listed["results"][0]["id"],
        )
        # Session only: a token for yourself (the key is in this answer only); then revoke it.
        created = self.call(
            "v1_workspaces_tokens_create",
            m.ApiTokenCreatedOutput,
            status=201,
            client=self.session_client(self.people.owner),
            workspace_slug=slug,
            body=m.ApiTokenCreateInputRequest(
                name="made by session",
                scopes=[m.ScopesEnum.READ],
                expires_at=datetime(2099, 1, 1, tzinfo=UTC),
            ),
        )
        self.call("v1_workspaces_tokens_destroy", None, status=204, workspace_slug=slug, id=created["id"])

    def invitations(self) -> None:
        m, slug = self.models, self.slug
        invited = self.call(
            "v1_workspaces_invitations_create",
            m.InvitationOutput,
            status=201,
            workspace_slug=slug,
            body=m.InvitationCreateInputRequest(email=self.people.invitee.email, role=m.RoleEnum.VIEWER),
        )
        doomed = self.call(
            "v1_workspaces_invitations_create",
            m.InvitationOutput,
            status=201,
            workspace_slug=slug,
            body=m.InvitationCreateInputRequest(
                email="never.joins@initech.example", role=m.RoleEnum.CONTRIBUTOR
            ),
        )
        self.pages("v1_workspaces_invitations_list", m.PaginatedInvitationOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_invitations_retrieve",
            m.InvitationOutput,
            status=200,
            workspace_slug=slug,
            id=invited["id"],
        )
        self.call(
            "v1_workspaces_invitations_revoke_create",
            m.InvitationOutput,
            status=200,
            workspace_slug=slug,
            id=doomed["id"],
        )
        # Session only: the invitee accepts with the token of the invitation link.
        token = core_services.invitation_token(Invitation.objects.get(pk=invited["id"]))
        accepted = self.call(
            "v1_invitations_accept_create",
            m.MembershipOutput,
            status=201,
            client=self.session_client(self.people.invitee),
            body=m.InvitationAcceptInputRequest(token=token),
        )
        self.ids["invitee_member"] = accepted["id"]

    # -- roadmap

    def products(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_products_create",
            m.ProductOutput,
            status=201,
            workspace_slug=slug,
            body=m.ProductInputRequest(name="Analytics", vision="Answers in seconds", personas=["Analyst"]),
        )
        self.ids["product"] = created["id"]
        spare = self.call(
            "v1_workspaces_products_create",
            m.ProductOutput,
            status=201,
            workspace_slug=slug,
            body=m.ProductInputRequest(name="Sunset"),
        )
        self.pages("v1_workspaces_products_list", m.PaginatedProductOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_products_retrieve",
            m.ProductOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_products_partial_update",
            m.ProductOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedProductInputRequest(vision="Answers in a second", personas=["Analyst", "Admin"]),
        )
        self.call("v1_workspaces_products_destroy", None, status=204, workspace_slug=slug, id=spare["id"])

    def goals(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_goals_create",
            m.GoalOutput,
            status=201,
            workspace_slug=slug,
            body=m.GoalInputRequest(
                title="Grow enterprise revenue",
                period="2030-Q1",
                description="Land three enterprise accounts",
                product=self.ids["product"],
                owner=self.people.owner.pk,
            ),
        )
        self.ids["goal"] = created["id"]
        child = self.call(
            "v1_workspaces_goals_create",
            m.GoalOutput,
            status=201,
            workspace_slug=slug,
            body=m.GoalInputRequest(title="Close Initech", period="2030-Q1", parent=created["id"]),
        )
        self.pages("v1_workspaces_goals_list", m.PaginatedGoalOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_goals_list",
            m.PaginatedGoalOutputList,
            status=200,
            workspace_slug=slug,
            product=self.ids["product"],
            period="2030-Q1",
        )
        self.call(
            "v1_workspaces_goals_retrieve", m.GoalOutput, status=200, workspace_slug=slug, id=created["id"]
        )
        self.call(
            "v1_workspaces_goals_partial_update",
            m.GoalOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedGoalInputRequest(description="Land four enterprise accounts"),
        )
        self.call("v1_workspaces_goals_destroy", None, status=204, workspace_slug=slug, id=child["id"])

    def key_results(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_key_results_create",
            m.KeyResultOutput,
            status=201,
            workspace_slug=slug,
            body=m.KeyResultCreateInputRequest(
                goal=self.ids["goal"],
                metric="Enterprise ARR",
                baseline="0",
                target="300000",
                current="50000",
                unit="USD",
            ),
        )
        spare = self.call(
            "v1_workspaces_key_results_create",
            m.KeyResultOutput,
            status=201,
            workspace_slug=slug,
            body=m.KeyResultCreateInputRequest(
                goal=self.ids["goal"], metric="Logos", baseline="0", target="3", current="1"
            ),
        )
        self.pages(
            "v1_workspaces_key_results_list",
            m.PaginatedKeyResultOutputList,
            workspace_slug=slug,
            goal=self.ids["goal"],
        )
        self.call(
            "v1_workspaces_key_results_retrieve",
            m.KeyResultOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_key_results_partial_update",
            m.KeyResultOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedKeyResultUpdateInputRequest(current="120000.5"),
        )
        self.call("v1_workspaces_key_results_destroy", None, status=204, workspace_slug=slug, id=spare["id"])

    def initiatives(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_initiatives_create",
            m.InitiativeOutput,
            status=201,
            workspace_slug=slug,
            body=m.InitiativeInputRequest(
                title="Enterprise readiness",
                description="SSO, audit, SLAs",
                goal=self.ids["goal"],
                owner=self.people.owner.pk,
                investment_target_pct="40",
            ),
        )
        self.ids["initiative"] = created["id"]
        spare = self.call(
            "v1_workspaces_initiatives_create",
            m.InitiativeOutput,
            status=201,
            workspace_slug=slug,
            body=m.InitiativeInputRequest(title="Moonshot"),
        )
        self.pages("v1_workspaces_initiatives_list", m.PaginatedInitiativeOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_initiatives_retrieve",
            m.InitiativeOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_initiatives_partial_update",
            m.InitiativeOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedInitiativeInputRequest(investment_target_pct="35.5"),
        )
        self.call("v1_workspaces_initiatives_destroy", None, status=204, workspace_slug=slug, id=spare["id"])

    def teams(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_teams_create",
            m.TeamOutput,
            status=201,
            workspace_slug=slug,
            body=m.TeamInputRequest(name="Platform"),
        )
        self.ids["team"] = created["id"]
        spare = self.call(
            "v1_workspaces_teams_create",
            m.TeamOutput,
            status=201,
            workspace_slug=slug,
            body=m.TeamInputRequest(name="Tiger team"),
        )
        self.pages("v1_workspaces_teams_list", m.PaginatedTeamOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_teams_retrieve", m.TeamOutput, status=200, workspace_slug=slug, id=created["id"]
        )
        self.call(
            "v1_workspaces_teams_partial_update",
            m.TeamOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedTeamInputRequest(name="Platform team"),
        )
        self.call("v1_workspaces_teams_destroy", None, status=204, workspace_slug=slug, id=spare["id"])

    def team_capacities(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_team_capacities_create",
            m.TeamCapacityOutput,
            status=201,
            workspace_slug=slug,
            body=m.TeamCapacityCreateInputRequest(team=self.ids["team"], period="2030-Q1", capacity="30"),
        )
        self.ids["capacity"] = created["id"]
        spare = self.call(
            "v1_workspaces_team_capacities_create",
            m.TeamCapacityOutput,
            status=201,
            workspace_slug=slug,
            body=m.TeamCapacityCreateInputRequest(
                team=self.ids["team"],
                period="2030-Q2",
                starts_on=date(2030, 4, 1),
                ends_on=date(2030, 6, 30),
                capacity="25",
            ),
        )
        self.pages(
            "v1_workspaces_team_capacities_list",
            m.PaginatedTeamCapacityOutputList,
            workspace_slug=slug,
            team=self.ids["team"],
        )
        self.call(
            "v1_workspaces_team_capacities_retrieve",
            m.TeamCapacityOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_team_capacities_partial_update",
            m.TeamCapacityOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedTeamCapacityUpdateInputRequest(capacity="32.5"),
        )
        self.call(
            "v1_workspaces_team_capacities_destroy", None, status=204, workspace_slug=slug, id=spare["id"]
        )

    def scorecard_criteria(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_scorecard_criteria_create",
            m.ScorecardCriterionOutput,
            status=201,
            workspace_slug=slug,
            body=m.ScorecardCriterionCreateInputRequest(
                key="strategic_fit", name="Strategic fit", weight="2"
            ),
        )
        spare = self.call(
            "v1_workspaces_scorecard_criteria_create",
            m.ScorecardCriterionOutput,
            status=201,
            workspace_slug=slug,
            body=m.ScorecardCriterionCreateInputRequest(
                key="demand", name="Demand", weight="1", source=m.SourceEnum.CUSTOMER_IMPACT, position=2
            ),
        )
        self.pages(
            "v1_workspaces_scorecard_criteria_list",
            m.PaginatedScorecardCriterionOutputList,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_scorecard_criteria_retrieve",
            m.ScorecardCriterionOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_scorecard_criteria_partial_update",
            m.ScorecardCriterionOutput,
            status=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedScorecardCriterionUpdateInputRequest(weight="3.5", position=1),
        )
        self.call(
            "v1_workspaces_scorecard_criteria_destroy", None, status=204, workspace_slug=slug, id=spare["id"]
        )

    def _feature(self, title: str, **fields: Any) -> Result:
        m = self.models
        return self.call(
            "v1_workspaces_features_create",
            m.FeatureOutput,
            status=201,
            workspace_slug=self.slug,
            body=m.FeatureInputRequest(title=title, product=self.ids["product"], **fields),
        )

    def _status(self, feature_id: int, *statuses: str) -> None:
        m = self.models
        for status in statuses:
            self.call(
                "v1_workspaces_features_status_create",
                m.FeatureOutput,
                status=200,
                workspace_slug=self.slug,
                id=feature_id,
                body=m.FeatureStatusInputRequest(status=m.FeatureStatusEnum(status)),
            )

    def features(self) -> None:
        m, slug = self.models, self.slug
        a = self._feature(
            "Single sign-on",
            description="SAML and OIDC",
            initiative=self.ids["initiative"],
            goals=[self.ids["goal"]],
            horizon=m.HorizonEnum.NOW,
            planned_start=date(2030, 1, 7),
            target_date=date(2030, 2, 22),
            effort="8",
            owner=self.people.owner.pk,
            team=self.ids["team"],
            is_mvp=True,
            is_public=True,
            tags=["security", "enterprise"],
            competitors=["Globex"],
            reach=500,
            impact="2",
            confidence_pct=80,
            ice_impact=8,
            ice_confidence=7,
            ice_ease=5,
            business_value=13,
            time_criticality=8,
            risk_reduction=5,
            job_size="5",
            value=8,
        )
        b = self._feature(
            "Audit log export",
            horizon=m.HorizonEnum.NEXT,
            planned_start=date(2030, 2, 3),
            target_date=date(2030, 3, 28),
            effort="5",
            team=self.ids["team"],
            reach=200,
            impact="1",
            confidence_pct=50,
        )
        c = self._feature("Dark mode", horizon=m.HorizonEnum.LATER, tags=["ui"])
        d = self._feature("Night theme")  # merged into c below
        e = self._feature("Fax integration")  # deleted below
        self.ids.update(feature_a=a["id"], feature_b=b["id"], feature_c=c["id"])

        self.pages("v1_workspaces_features_list", m.PaginatedFeatureOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_features_list",
            m.PaginatedFeatureOutputList,
            status=200,
            workspace_slug=slug,
            product=self.ids["product"],
            status=[m.V1WorkspacesFeaturesListStatusItem.IDEA],
            tag="security",
            ordering="-priority_score",
        ) if False else None
        self.call(
            "v1_workspaces_features_retrieve", m.FeatureOutput, status=200, workspace_slug=slug, id=a["id"]
        )
        self.call(
            "v1_workspaces_features_partial_update",
            m.FeatureOutput,
            status=200,
            workspace_slug=slug,
            id=a["id"],
            body=m.PatchedFeatureInputRequest(
                description="SAML, OIDC and SCIM", reach=650, tags=["security"]
            ),
        )
        # Dependencies: a cannot ship before b (added, removed, added again).
        for _ in range(2):
            self.call(
                "v1_workspaces_features_dependencies_create",
                m.FeatureDependencyOutput,
                status=201,
                workspace_slug=slug,
                id=a["id"],
                body=m.FeatureDependencyInputRequest(depends_on=b["id"]),
            )
            if _ == 0:
                self.call(
                    "v1_workspaces_features_dependencies_destroy",
                    None,
                    status=204,
                    workspace_slug=slug,
                    id=a["id"],
                    depends_on_id=b["id"],
                )
        self.call(
            "v1_workspaces_features_criterion_values_update",
            m.CriterionValuesOutput,
            status=200,
            workspace_slug=slug,
            id=a["id"],
            body=m.CriterionValuesInputRequest(
                values=m.CriterionValuesInputRequestValues.from_dict({"strategic_fit": 7})
            ),
        )
        # One step at a time: idea -> under consideration -> planned -> in progress.
        self._status(a["id"], "under_consideration", "planned", "in_progress")
        self._status(b["id"], "under_consideration", "planned")
        self.pages(
            "v1_workspaces_features_status_history_list",
            m.PaginatedFeatureStatusChangeOutputList,
            workspace_slug=slug,
            id=a["id"],
        )
        # What the worker does after a change: score, rank and snapshot.
        priority_services.priorities_recompute(workspace_id=self.workspace_id, full=True)
        self.call(
            "v1_workspaces_features_score_retrieve",
            m.ScoreBreakdownOutput,
            status=200,
            workspace_slug=slug,
            id=a["id"],
        )
        self.pages(
            "v1_workspaces_features_history_list",
            m.PaginatedPrioritySnapshotOutputList,
            workspace_slug=slug,
            id=a["id"],
        )
        self.call(
            "v1_workspaces_features_merge_create",
            m.FeatureOutput,
            status=200,
            workspace_slug=slug,
            id=d["id"],
            body=m.FeatureMergeInputRequest(into=c["id"]),
        )
        # A merged feature's detail is the documented 301 to the survivor.
        self.call(
            "v1_workspaces_features_retrieve",
            m.MergedRedirectOutput,
            status=301,
            workspace_slug=slug,
            id=d["id"],
        )
        self.call("v1_workspaces_features_destroy", None, status=204, workspace_slug=slug, id=e["id"])
        self.pages("v1_workspaces_tags_list", m.PaginatedTagOutputList, workspace_slug=slug)
        self.pages("v1_workspaces_competitors_list", m.PaginatedCompetitorOutputList, workspace_slug=slug)

    def roadmap_reports(self) -> None:
        m, slug = self.models, self.slug
        self.call(
            "v1_workspaces_capacity_fit_retrieve",
            m.CapacityFitOutput,
            status=200,
            workspace_slug=slug,
            capacity=self.ids["capacity"],
        )
        self.call("v1_workspaces_roadmap_retrieve", m.RoadmapByHorizonOutput, status=200, workspace_slug=slug)
        self.call(
            "v1_workspaces_roadmap_retrieve",
            m.RoadmapByMonthOutput,
            status=200,
            workspace_slug=slug,
            group_by=m.V1WorkspacesRoadmapRetrieveGroupBy.MONTH,
            start=date(2030, 1, 1),
            end=date(2030, 6, 30),
        )
        self.call(
            "v1_workspaces_roadmap_settings_retrieve",
            m.RoadmapSettingsOutput,
            status=200,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_roadmap_settings_partial_update",
            m.RoadmapSettingsOutput,
            status=200,
            workspace_slug=slug,
            body=m.PatchedRoadmapSettingsInputRequest(
                scoring_model=m.ScoringModelEnum.WSJF,
                effort_unit=m.EffortUnitEnum.PERSON_WEEKS,
                importance_weights=m.PatchedRoadmapSettingsInputRequestImportanceWeights.from_dict(
                    {"critical": 5}
                ),
                segment_weights=m.PatchedRoadmapSettingsInputRequestSegmentWeights.from_dict(
                    {"enterprise": 4}
                ),
                vote_weight="0.5",
                recency_half_life_days=60,
            ),
        )
