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
  Besides the life cycles it checks a few error answers (400, 401, 404, 409, 422) parse
  into the documented error model, and that id filters typed ``float`` by the schema
  work when sent as the generated signature types them.
- The tests: the generator skipped nothing (``test_generator_skips_nothing``); every
  call answered as expected and parsed (``test_every_call_answers_and_parses``); parsed
  models hold no undocumented fields and no value of another type than its field's
  (``test_parsed_models_match_the_schema``: the generated ``from_dict`` does not check
  scalars, and falls back to the raw value when an enum-or-null does not parse); every
  generated operation was called, but the commented ``SKIPPED_OPERATIONS``
  (``test_every_generated_operation_is_exercised``, which prints the calls made).

Run: ``.venv/bin/python -m pytest -m contract tests/contract/test_generated_client.py``.
"""

from __future__ import annotations

import datetime as datetime_module
import hashlib
import hmac
import importlib
import inspect
import io
import json
import logging
import pkgutil
import re
import subprocess
import sys
import time
import traceback
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client as DjangoClient
from django.utils.crypto import get_random_string

from feedback import services as feedback_services
from feedback import theme_services
from priority import services as priority_services
from productops import services as core_services
from productops.models import Invitation, Role, User
from productops.outbox.models import Delivery, DeliveryState

# `django_db` so that pytest-django sets the test database up (it creates only the
# databases the collected tests ask for); the tests themselves only read the report.
pytestmark = [pytest.mark.contract, pytest.mark.django_db]

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

    def __repr__(self) -> str:  # pytest shows fixture values in failures
        return f"Generated({len(self.operations)} operations, {len(self.warnings)} warnings)"


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
    # parse | status | undocumented_status | wrong_model | undocumented_field | wrong_type | crash | missing
    # | value (a parsed answer that is not what the walk's call should give)
    kind: str
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
    text: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.json[key]


@dataclass
class WalkReport:
    calls: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def __repr__(self) -> str:  # pytest shows fixture values in failures
        return f"WalkReport({sum(self.calls.values())} calls, {len(self.problems)} problems)"

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
        # What the generated models' annotations name (for the type checks).
        self.namespace = {**vars(self.models), "datetime": datetime_module, "Unset": self.types.Unset}

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
        want: int,
        client: Any = None,
        items: Any = None,
        context: str = "",
        check_fields: bool = True,
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
        body = _text(response.content)
        result = Result(
            operation, int(response.status_code), response.parsed, self._json(response.content), body
        )
        if result.status != want:
            self.problem(operation, "status", f"HTTP {result.status}, expected {want}{context}", body)
            return result
        if expect is None:
            if response.content.strip():
                self.problem(operation, "wrong_model", "expected no body", body)
        elif expect is list:
            if not isinstance(response.parsed, list):
                self.problem(operation, "wrong_model", f"parsed {type(response.parsed).__name__}, not a list")
            elif not all(isinstance(item, items) for item in response.parsed):
                self.problem(operation, "wrong_model", f"list items are not all {items.__name__}", body)
        elif expect is Any:
            pass
        elif not isinstance(response.parsed, expect):
            self.problem(
                operation,
                "wrong_model",
                f"parsed {type(response.parsed).__name__}, expected {expect.__name__}",
                body,
            )
        elif check_fields:
            for kind, detail in _schema_mismatches(
                response.parsed, type(response.parsed).__name__, self.namespace
            ):
                self.problem(operation, kind, detail, body)
        return result

    def documented_model(self, operation: str, status: int) -> Any:
        """The generated model the client parses ``status`` into (None: no body documented)."""
        module = self.generated.operations[operation]
        source = inspect.getsource(module._parse_response)
        match = re.search(rf"status_code == {status}:\s*response_{status} = (\w+)\.from_dict", source)
        return getattr(self.models, match.group(1)) if match else None

    def error(self, operation: str, want: int, *, client: Any = None, **kwargs: Any) -> None:
        """An error answer: the generated client parses it into the documented error model."""
        model = self.documented_model(operation, want)
        if model is not None:
            self.call(operation, model, want=want, client=client, check_fields=False, **kwargs)
            return
        result = self.call(operation, Any, want=want, client=client, check_fields=False, **kwargs)
        if result.status == want and result.json is not None:
            self.problem(
                operation,
                "undocumented_body",
                f"HTTP {want} is documented without a body, so the generated client answers "
                f"parsed=None; the API sends one",
                result.text,
            )

    @staticmethod
    def _json(content: bytes) -> Any:
        try:
            return json.loads(content) if content else None
        except ValueError:
            return None

    def pages(self, operation: str, expect: Any, **kwargs: Any) -> Result:
        """A list, one item a page, then its second page (by page number or cursor) if any."""
        first = self.call(operation, expect, want=200, page_size=1, **kwargs)
        next_url = first.json.get("next") if isinstance(first.json, dict) else None
        if next_url:
            query = parse_qs(urlsplit(next_url).query)
            context = f" (following `next`: {next_url})"
            if "cursor" in query:
                cursor = query["cursor"][0]
                self.call(operation, expect, want=200, page_size=1, cursor=cursor, context=context, **kwargs)
            elif "page" in query:
                page = int(query["page"][0])
                self.call(operation, expect, want=200, page_size=1, page=page, context=context, **kwargs)
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


def _schema_mismatches(value: Any, path: str, namespace: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """What a parsed model shows the schema got wrong without failing the parse.

    - ``undocumented_field``: keys kept in ``additional_properties`` by a model that
      declares fields, i.e. fields the response has and the schema does not document.
    - ``wrong_type``: a value whose type is not its field's annotation. The generated
      ``from_dict`` only ``cast``s scalars, so a number where the schema says string, or a
      null where it says not nullable, parses silently and surprises the integrator later.
    """
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _schema_mismatches(item, f"{path}[{index}]", namespace)
        return
    if not attrs.has(type(value)):
        return
    hints = _type_hints(type(value), namespace)
    declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
    extra = getattr(value, "additional_properties", None) or {}
    if declared and extra:
        yield "undocumented_field", f"{path} has fields the schema does not declare: {sorted(extra)}"
    for name in declared:
        item = getattr(value, name)
        hint = hints.get(name)
        if hint is not None and not _conforms(item, hint):
            yield (
                "wrong_type",
                f"{path}.{name} is {item!r:.80} ({type(item).__name__}), the schema says {hint}",
            )
        yield from _schema_mismatches(item, f"{path}.{name}", namespace)
    if not declared and "additional_properties" in hints:  # a map: its values are typed
        value_hint = typing.get_args(hints["additional_properties"])[1:]
        for key, item in extra.items():
            if value_hint and not _conforms(item, value_hint[0]):
                yield "wrong_type", f"{path}[{key!r}] is {item!r:.80}, the schema says {value_hint[0]}"
            yield from _schema_mismatches(item, f"{path}[{key!r}]", namespace)


def _type_hints(cls: type, namespace: dict[str, Any]) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    try:
        return typing.get_type_hints(cls, globalns={**namespace, **vars(module)})
    except Exception:  # an annotation this check cannot resolve: skip the type checks
        return {}


def _conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        args = typing.get_args(hint)
        return isinstance(value, list) and (not args or all(_conforms(item, args[0]) for item in value))
    if origin is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON has one number type: 3 is a fine float
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


# --- the steps: one per resource ----------------------------------------------------------


@dataclass
class People:
    owner: User
    member: User
    invitee: User


class ProductopsWalk(Walk):
    def __init__(
        self, generated: Generated, *, key: str, wsgi_app: Any, people: People, slug: str, workspace_id: int
    ) -> None:
        super().__init__(generated, key=key, wsgi_app=wsgi_app)
        self.people = people
        self.slug = slug
        self.workspace_id = workspace_id
        self.started_at = datetime.now(UTC)

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
            self.feature_comments,
            self.saved_views,
            self.roadmap_reports,
            self.releases,
            self.release_plans,
            self.release_settings,
            self.companies,
            self.contacts,
            self.feedback,
            self.feedback_channels,
            self.feedback_settings,
            self.feedback_themes,
            self.votes,
            self.inbound_webhooks,
            self.comms,
            self.error_answers,
            self.typed_filters,
            self.tombstones,
            self.audit_events,
        )

    # -- core

    def workspaces(self) -> None:
        m, slug = self.models, self.slug
        self.pages("v1_workspaces_list", m.PaginatedWorkspaceOutputList)
        self.call("v1_workspaces_retrieve", m.WorkspaceOutput, want=200, workspace_slug=slug)
        self.call(
            "v1_workspaces_partial_update",
            m.WorkspaceOutput,
            want=200,
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
            want=201,
            client=session,
            body=m.WorkspaceCreateInputRequest(name="Generated scratch", slug="generated-scratch"),
        )
        self.call("v1_workspaces_destroy", None, want=204, client=session, workspace_slug="generated-scratch")

    def members(self) -> None:
        m, slug = self.models, self.slug
        self.pages("v1_workspaces_members_list", m.PaginatedMembershipOutputList, workspace_slug=slug)
        listed = self.call(
            "v1_workspaces_members_list",
            m.PaginatedMembershipOutputList,
            want=200,
            workspace_slug=slug,
            role=m.V1WorkspacesMembersListRole.CONTRIBUTOR,
        )
        self.ids["member"] = listed["results"][0]["id"]
        everyone = self.call(
            "v1_workspaces_members_list",
            m.PaginatedMembershipOutputList,
            want=200,
            workspace_slug=slug,
            search=self.people.owner.username,
        )
        self.call(
            "v1_workspaces_members_retrieve",
            m.MembershipOutput,
            want=200,
            workspace_slug=slug,
            id=everyone["results"][0]["id"],
        )
        self.call(
            "v1_workspaces_members_partial_update",
            m.MembershipOutput,
            want=200,
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
            want=200,
            workspace_slug=slug,
            id=listed["results"][0]["id"],
        )
        # Session only: a token for yourself (the key is in this answer only); then revoke it.
        created = self.call(
            "v1_workspaces_tokens_create",
            m.ApiTokenCreatedOutput,
            want=201,
            client=self.session_client(self.people.owner),
            workspace_slug=slug,
            body=m.ApiTokenCreateInputRequest(
                name="made by session",
                scopes=[m.ScopesEnum.READ],
                expires_at=datetime(2099, 1, 1, tzinfo=UTC),
            ),
        )
        self.call("v1_workspaces_tokens_destroy", None, want=204, workspace_slug=slug, id=created["id"])

    def invitations(self) -> None:
        m, slug = self.models, self.slug
        invited = self.call(
            "v1_workspaces_invitations_create",
            m.InvitationOutput,
            want=201,
            workspace_slug=slug,
            body=m.InvitationCreateInputRequest(email=self.people.invitee.email, role=m.RoleEnum.VIEWER),
        )
        doomed = self.call(
            "v1_workspaces_invitations_create",
            m.InvitationOutput,
            want=201,
            workspace_slug=slug,
            body=m.InvitationCreateInputRequest(
                email="never.joins@initech.example", role=m.RoleEnum.CONTRIBUTOR
            ),
        )
        self.pages("v1_workspaces_invitations_list", m.PaginatedInvitationOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_invitations_retrieve",
            m.InvitationOutput,
            want=200,
            workspace_slug=slug,
            id=invited["id"],
        )
        self.call(
            "v1_workspaces_invitations_revoke_create",
            m.InvitationOutput,
            want=200,
            workspace_slug=slug,
            id=doomed["id"],
        )
        # Session only: the invitee accepts with the token of the invitation link.
        token = core_services.invitation_token(Invitation.objects.get(pk=invited["id"]))
        accepted = self.call(
            "v1_invitations_accept_create",
            m.MembershipOutput,
            want=201,
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
            want=201,
            workspace_slug=slug,
            body=m.ProductInputRequest(
                name="Analytics",
                vision="Answers in seconds",
                personas=["Analyst"],
                version_scheme=m.VersionSchemeEnum.SEMVER,
            ),
        )
        self.ids["product"] = created["id"]
        spare = self.call(
            "v1_workspaces_products_create",
            m.ProductOutput,
            want=201,
            workspace_slug=slug,
            body=m.ProductInputRequest(name="Sunset"),
        )
        self.pages("v1_workspaces_products_list", m.PaginatedProductOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_products_retrieve",
            m.ProductOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_products_partial_update",
            m.ProductOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedProductInputRequest(
                vision="Answers in a second",
                personas=["Analyst", "Admin"],
                version_scheme=m.VersionSchemeEnum.SEMVER,
            ),
        )
        self.call("v1_workspaces_products_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def goals(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_goals_create",
            m.GoalOutput,
            want=201,
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
            want=201,
            workspace_slug=slug,
            body=m.GoalInputRequest(title="Close Initech", period="2030-Q1", parent=created["id"]),
        )
        self.pages("v1_workspaces_goals_list", m.PaginatedGoalOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_goals_list",
            m.PaginatedGoalOutputList,
            want=200,
            workspace_slug=slug,
            product=self.ids["product"],
            period="2030-Q1",
        )
        self.call(
            "v1_workspaces_goals_retrieve", m.GoalOutput, want=200, workspace_slug=slug, id=created["id"]
        )
        self.call(
            "v1_workspaces_goals_partial_update",
            m.GoalOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedGoalInputRequest(description="Land four enterprise accounts"),
        )
        self.call("v1_workspaces_goals_destroy", None, want=204, workspace_slug=slug, id=child["id"])

    def key_results(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_key_results_create",
            m.KeyResultOutput,
            want=201,
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
            want=201,
            workspace_slug=slug,
            body=m.KeyResultCreateInputRequest(
                goal=self.ids["goal"], metric="Logos", baseline="0", target="3", current="1"
            ),
        )
        self.ids["key_result"] = created["id"]
        self.pages(
            "v1_workspaces_key_results_list",
            m.PaginatedKeyResultOutputList,
            workspace_slug=slug,
            goal=self.ids["goal"],
        )
        self.call(
            "v1_workspaces_key_results_retrieve",
            m.KeyResultOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_key_results_partial_update",
            m.KeyResultOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedKeyResultUpdateInputRequest(current="120000.5"),
        )
        self.call("v1_workspaces_key_results_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def initiatives(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_initiatives_create",
            m.InitiativeOutput,
            want=201,
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
            want=201,
            workspace_slug=slug,
            body=m.InitiativeInputRequest(title="Moonshot"),
        )
        self.pages("v1_workspaces_initiatives_list", m.PaginatedInitiativeOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_initiatives_retrieve",
            m.InitiativeOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_initiatives_partial_update",
            m.InitiativeOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedInitiativeInputRequest(investment_target_pct="35.5"),
        )
        self.call("v1_workspaces_initiatives_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def teams(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_teams_create",
            m.TeamOutput,
            want=201,
            workspace_slug=slug,
            body=m.TeamInputRequest(name="Platform"),
        )
        self.ids["team"] = created["id"]
        spare = self.call(
            "v1_workspaces_teams_create",
            m.TeamOutput,
            want=201,
            workspace_slug=slug,
            body=m.TeamInputRequest(name="Tiger team"),
        )
        self.pages("v1_workspaces_teams_list", m.PaginatedTeamOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_teams_retrieve", m.TeamOutput, want=200, workspace_slug=slug, id=created["id"]
        )
        self.call(
            "v1_workspaces_teams_partial_update",
            m.TeamOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedTeamInputRequest(name="Platform team"),
        )
        self.call("v1_workspaces_teams_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def team_capacities(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_team_capacities_create",
            m.TeamCapacityOutput,
            want=201,
            workspace_slug=slug,
            body=m.TeamCapacityCreateInputRequest(team=self.ids["team"], period="2030-Q1", capacity="30"),
        )
        self.ids["capacity"] = created["id"]
        spare = self.call(
            "v1_workspaces_team_capacities_create",
            m.TeamCapacityOutput,
            want=201,
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
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_team_capacities_partial_update",
            m.TeamCapacityOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedTeamCapacityUpdateInputRequest(capacity="32.5"),
        )
        self.call(
            "v1_workspaces_team_capacities_destroy", None, want=204, workspace_slug=slug, id=spare["id"]
        )

    def scorecard_criteria(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_scorecard_criteria_create",
            m.ScorecardCriterionOutput,
            want=201,
            workspace_slug=slug,
            body=m.ScorecardCriterionCreateInputRequest(
                key="strategic_fit", name="Strategic fit", weight="2"
            ),
        )
        spare = self.call(
            "v1_workspaces_scorecard_criteria_create",
            m.ScorecardCriterionOutput,
            want=201,
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
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_scorecard_criteria_partial_update",
            m.ScorecardCriterionOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedScorecardCriterionUpdateInputRequest(weight="3.5", position=1),
        )
        self.call(
            "v1_workspaces_scorecard_criteria_destroy", None, want=204, workspace_slug=slug, id=spare["id"]
        )

    def _feature(self, title: str, **fields: Any) -> Result:
        m = self.models
        return self.call(
            "v1_workspaces_features_create",
            m.FeatureOutput,
            want=201,
            workspace_slug=self.slug,
            body=m.FeatureInputRequest(title=title, product=self.ids["product"], **fields),
        )

    def _status(self, feature_id: int, *statuses: str) -> None:
        m = self.models
        for status in statuses:
            self.call(
                "v1_workspaces_features_status_create",
                m.FeatureOutput,
                want=200,
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
            is_public=True,
            public_title="Single sign-on (SAML, OIDC)",
            release_note="Sign in with your identity provider.",
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
        self.ids.update(feature_a=a["id"], feature_b=b["id"], feature_c=c["id"], feature_d=d["id"])

        self.pages("v1_workspaces_features_list", m.PaginatedFeatureOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_features_list",
            m.PaginatedFeatureOutputList,
            want=200,
            workspace_slug=slug,
            product=self.ids["product"],
            status=[m.V1WorkspacesFeaturesListStatusItem.IDEA, m.V1WorkspacesFeaturesListStatusItem.PLANNED],
            tag="security",
            horizon=m.V1WorkspacesFeaturesListHorizon.NOW,
            ordering="-priority_score",
        )
        self.call(
            "v1_workspaces_features_retrieve", m.FeatureOutput, want=200, workspace_slug=slug, id=a["id"]
        )
        self.call(
            "v1_workspaces_features_partial_update",
            m.FeatureOutput,
            want=200,
            workspace_slug=slug,
            id=a["id"],
            body=m.PatchedFeatureInputRequest(
                description="SAML, OIDC and SCIM", reach=650, tags=["security"]
            ),
        )
        # Dependencies: a cannot ship before b (added, removed, added again).
        for again in (False, True):
            self.call(
                "v1_workspaces_features_dependencies_create",
                m.FeatureDependencyOutput,
                want=201,
                workspace_slug=slug,
                id=a["id"],
                body=m.FeatureDependencyInputRequest(depends_on=b["id"]),
            )
            if not again:
                self.call(
                    "v1_workspaces_features_dependencies_destroy",
                    None,
                    want=204,
                    workspace_slug=slug,
                    id=a["id"],
                    depends_on_id=b["id"],
                )
        self.call(
            "v1_workspaces_features_criterion_values_update",
            m.CriterionValuesOutput,
            want=200,
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
            want=200,
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
            want=200,
            workspace_slug=slug,
            id=d["id"],
            body=m.FeatureMergeInputRequest(into=c["id"]),
        )
        # A merged feature's detail is the documented 301 to the survivor.
        self.call(
            "v1_workspaces_features_retrieve",
            m.MergedRedirectOutput,
            want=301,
            workspace_slug=slug,
            id=d["id"],
        )
        self.call("v1_workspaces_features_destroy", None, want=204, workspace_slug=slug, id=e["id"])
        self.pages("v1_workspaces_tags_list", m.PaginatedTagOutputList, workspace_slug=slug)
        self.pages("v1_workspaces_competitors_list", m.PaginatedCompetitorOutputList, workspace_slug=slug)

    def feature_comments(self) -> None:
        """Post a comment that mentions the owner, read it, edit it, list, delete."""
        m, slug = self.models, self.slug
        feature = self._feature("Commented feature")
        posted = self.call(
            "v1_workspaces_features_comments_create",
            m.FeatureCommentOutput,
            want=201,
            workspace_slug=slug,
            feature_id=feature["id"],
            body=m.FeatureCommentInputRequest(body=f"Please look @{self.people.owner.username}"),
        )
        self.call(
            "v1_workspaces_features_comments_retrieve",
            m.FeatureCommentOutput,
            want=200,
            workspace_slug=slug,
            feature_id=feature["id"],
            id=posted["id"],
        )
        self.call(
            "v1_workspaces_features_comments_partial_update",
            m.FeatureCommentOutput,
            want=200,
            workspace_slug=slug,
            feature_id=feature["id"],
            id=posted["id"],
            body=m.PatchedFeatureCommentInputRequest(body="Edited"),
        )
        self.pages(
            "v1_workspaces_features_comments_list",
            m.PaginatedFeatureCommentOutputList,
            workspace_slug=slug,
            feature_id=feature["id"],
        )
        self.call(
            "v1_workspaces_features_comments_destroy",
            None,
            want=204,
            workspace_slug=slug,
            feature_id=feature["id"],
            id=posted["id"],
        )

    def saved_views(self) -> None:
        """Save a view, share it with a link (the key once), list both, revoke, delete."""
        m, slug = self.models, self.slug
        view = self.call(
            "v1_workspaces_saved_views_create",
            m.SavedViewOutput,
            want=201,
            workspace_slug=slug,
            body=m.SavedViewCreateInputRequest(
                name="Platform board",
                kind=m.SavedViewKindEnum.BOARD,
                query=m.SavedViewCreateInputRequestQuery.from_dict({"product": self.ids["product"]}),
            ),
        )
        self.call(
            "v1_workspaces_saved_views_retrieve",
            m.SavedViewOutput,
            want=200,
            workspace_slug=slug,
            id=view["id"],
        )
        self.call(
            "v1_workspaces_saved_views_partial_update",
            m.SavedViewOutput,
            want=200,
            workspace_slug=slug,
            id=view["id"],
            body=m.PatchedSavedViewUpdateInputRequest(name="Platform board (shared)", shared=True),
        )
        self.pages("v1_workspaces_saved_views_list", m.PaginatedSavedViewOutputList, workspace_slug=slug)
        link = self.call(
            "v1_workspaces_share_links_create",
            m.ShareLinkCreatedOutput,
            want=201,
            workspace_slug=slug,
            body=m.ShareLinkCreateInputRequest(
                view=view["id"], expires_at=datetime.now(UTC) + timedelta(days=7)
            ),
        )
        self.call(
            "v1_workspaces_share_links_retrieve",
            m.ShareLinkOutput,
            want=200,
            workspace_slug=slug,
            id=link["id"],
        )
        self.pages("v1_workspaces_share_links_list", m.PaginatedShareLinkOutputList, workspace_slug=slug)
        self.call("v1_workspaces_share_links_destroy", None, want=204, workspace_slug=slug, id=link["id"])
        self.call("v1_workspaces_saved_views_destroy", None, want=204, workspace_slug=slug, id=view["id"])

    def roadmap_reports(self) -> None:
        m, slug = self.models, self.slug
        self.call(
            "v1_workspaces_capacity_fit_retrieve",
            m.CapacityFitOutput,
            want=200,
            workspace_slug=slug,
            capacity=self.ids["capacity"],
        )
        self.call("v1_workspaces_roadmap_retrieve", m.RoadmapByHorizonOutput, want=200, workspace_slug=slug)
        self.call(
            "v1_workspaces_roadmap_retrieve",
            m.RoadmapByMonthOutput,
            want=200,
            workspace_slug=slug,
            group_by=m.V1WorkspacesRoadmapRetrieveGroupBy.MONTH,
            start=date(2030, 1, 1),
            end=date(2030, 6, 30),
        )
        self.call(
            "v1_workspaces_roadmap_settings_retrieve",
            m.RoadmapSettingsOutput,
            want=200,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_roadmap_settings_partial_update",
            m.RoadmapSettingsOutput,
            want=200,
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

    # -- releases

    def _release(self, name: str, version: str, **fields: Any) -> Result:
        m = self.models
        return self.call(
            "v1_workspaces_releases_create",
            m.ReleaseOutput,
            want=201,
            workspace_slug=self.slug,
            body=m.ReleaseCreateInputRequest(
                product=self.ids["product"], name=name, version=version, **fields
            ),
        )

    def _scope(self, release_id: int, feature_id: int, **fields: Any) -> Result:
        m = self.models
        return self.call(
            "v1_workspaces_scope_items_create",
            m.ScopeItemOutput,
            want=201,
            workspace_slug=self.slug,
            body=m.ScopeItemCreateInputRequest(release=release_id, feature=feature_id, **fields),
        )

    def releases(self) -> None:
        m, slug = self.models, self.slug
        today = date.today()
        spring = self._release(
            "Spring",
            "1.0.0",
            planned_date=today + timedelta(days=30),
            owner=self.people.owner.pk,
            summary="Usage insights for every team.",
            is_public=True,
        )
        summer = self._release("Summer", "1.1.0", planned_date=today + timedelta(days=90))
        spare = self._release("Scratch", "1.2.0")  # undated; deleted below
        self.ids.update(release=spring["id"], release_later=summer["id"], release_spare=spare["id"])
        self.pages("v1_workspaces_releases_list", m.PaginatedReleaseOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_releases_list",
            m.PaginatedReleaseOutputList,
            want=200,
            workspace_slug=slug,
            product=self.ids["product"],
            status=[
                m.V1WorkspacesReleasesListStatusItem.PLANNED,
                m.V1WorkspacesReleasesListStatusItem.IN_PROGRESS,
            ],
            planned_after=today,
            planned_before=today + timedelta(days=365),
            search="spring",
            ordering="-planned_date",
        )
        self.call(
            "v1_workspaces_releases_retrieve", m.ReleaseOutput, want=200, workspace_slug=slug, id=spring["id"]
        )
        self.call(
            "v1_workspaces_releases_partial_update",
            m.ReleaseOutput,
            want=200,
            workspace_slug=slug,
            id=spring["id"],
            body=m.PatchedReleaseUpdateInputRequest(
                summary="Usage insights for every team, in seconds.", planned_date=today + timedelta(days=35)
            ),
        )
        self.call(
            "v1_workspaces_releases_status_create",
            m.ReleaseOutput,
            want=200,
            workspace_slug=slug,
            id=spring["id"],
            body=m.ReleaseStatusInputRequest(status=m.ReleaseManualStatusEnum.IN_PROGRESS, reason="Kick-off"),
        )
        self.pages(
            "v1_workspaces_releases_status_history_list",
            m.PaginatedReleaseStatusChangeOutputList,
            workspace_slug=slug,
            id=spring["id"],
        )

    def release_plans(self) -> None:
        """Scope, checklists, metrics, notes and shipping of the releases made above."""
        m, slug = self.models, self.slug
        spring, summer, spare = self.ids["release"], self.ids["release_later"], self.ids["release_spare"]
        today = date.today()
        # Features of their own, so the other steps' features keep their statuses.
        ready = self._feature(
            "Usage dashboard", public_title="Usage at a glance", release_note="Who uses what."
        )
        todo = self._feature("Usage alerts")
        nice = self._feature("Usage export")
        wanderer = self._feature("Usage API")
        done_item = self._scope(
            spring,
            ready["id"],
            is_must_have=True,
            change_type=m.ChangeTypeEnum.NEW,
            state=m.ScopeStateEnum.IN_PROGRESS,
        )
        self._scope(spring, todo["id"])
        self._scope(spring, nice["id"], is_must_have=False, change_type=m.ChangeTypeEnum.IMPROVED)
        moving = self._scope(summer, wanderer["id"], position=3)
        self.pages("v1_workspaces_scope_items_list", m.PaginatedScopeItemOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_scope_items_list",
            m.PaginatedScopeItemOutputList,
            want=200,
            workspace_slug=slug,
            release=spring,
            feature=ready["id"],
            is_open=True,
            is_must_have=True,
            state=m.V1WorkspacesScopeItemsListState.IN_PROGRESS,
        )
        self.call(
            "v1_workspaces_scope_items_retrieve",
            m.ScopeItemOutput,
            want=200,
            workspace_slug=slug,
            id=done_item["id"],
        )
        self.call(
            "v1_workspaces_scope_items_partial_update",
            m.ScopeItemOutput,
            want=200,
            workspace_slug=slug,
            id=done_item["id"],
            body=m.PatchedScopeItemUpdateInputRequest(state=m.ScopeStateEnum.DONE),
        )
        moved = self.call(
            "v1_workspaces_scope_items_move_create",
            m.ScopeItemOutput,
            want=200,
            workspace_slug=slug,
            id=moving["id"],
            body=m.ScopeItemMoveInputRequest(release=spare),
        )
        self.call("v1_workspaces_scope_items_destroy", None, want=204, workspace_slug=slug, id=moved["id"])

        # The launch checklist: the template (the defaults, then one of ours), and the tasks.
        template = self.pages(
            "v1_workspaces_checklist_template_list",
            m.PaginatedChecklistTemplateItemOutputList,
            workspace_slug=slug,
        )
        item = self.call(
            "v1_workspaces_checklist_template_create",
            m.ChecklistTemplateItemOutput,
            want=201,
            workspace_slug=slug,
            body=m.ChecklistTemplateItemInputRequest(
                title="Status page updated",
                category=m.CategoryEnum.SUPPORT_TRAINING,
                relative_due="-2 days",
                is_required=False,
                default_owner=self.people.owner.pk,
                position=10,
            ),
        )
        self.call(
            "v1_workspaces_checklist_template_retrieve",
            m.ChecklistTemplateItemOutput,
            want=200,
            workspace_slug=slug,
            id=item["id"],
        )
        self.call(
            "v1_workspaces_checklist_template_partial_update",
            m.ChecklistTemplateItemOutput,
            want=200,
            workspace_slug=slug,
            id=item["id"],
            body=m.PatchedChecklistTemplateItemInputRequest(relative_due="-1 week"),
        )
        self.call(
            "v1_workspaces_checklist_template_destroy",
            None,
            want=204,
            workspace_slug=slug,
            id=template["results"][0]["id"],
        )
        self.pages(
            "v1_workspaces_checklist_tasks_list", m.PaginatedChecklistTaskOutputList, workspace_slug=slug
        )
        tasks = self.call(
            "v1_workspaces_checklist_tasks_list",
            m.PaginatedChecklistTaskOutputList,
            want=200,
            workspace_slug=slug,
            release=spring,
            state=m.V1WorkspacesChecklistTasksListState.TODO,
            is_required=True,
            page_size=200,
        )
        task = self.call(
            "v1_workspaces_checklist_tasks_create",
            m.ChecklistTaskOutput,
            want=201,
            workspace_slug=slug,
            body=m.ChecklistTaskCreateInputRequest(
                release=spring,
                title="Record the demo video",
                category=m.CategoryEnum.SALES_ENABLEMENT,
                owner=self.people.member.pk,
                due_date=today + timedelta(days=20),
                is_required=False,
            ),
        )
        self.call(
            "v1_workspaces_checklist_tasks_retrieve",
            m.ChecklistTaskOutput,
            want=200,
            workspace_slug=slug,
            id=task["id"],
        )
        for row in tasks["results"]:  # every required task done: the release is ready
            self.call(
                "v1_workspaces_checklist_tasks_partial_update",
                m.ChecklistTaskOutput,
                want=200,
                workspace_slug=slug,
                id=row["id"],
                body=m.PatchedChecklistTaskUpdateInputRequest(state=m.ChecklistStateEnum.DONE),
            )
        self.call("v1_workspaces_checklist_tasks_destroy", None, want=204, workspace_slug=slug, id=task["id"])

        # Success metrics: of the release, and of a feature read from a key result.
        metric = self.call(
            "v1_workspaces_success_metrics_create",
            m.SuccessMetricOutput,
            want=201,
            workspace_slug=slug,
            body=m.SuccessMetricCreateInputRequest(
                release=spring,
                name="Teams using the dashboard",
                unit="teams",
                baseline="10",
                target="25.5",
                review_date=today + timedelta(days=60),
            ),
        )
        spare_metric = self.call(
            "v1_workspaces_success_metrics_create",
            m.SuccessMetricOutput,
            want=201,
            workspace_slug=slug,
            body=m.SuccessMetricCreateInputRequest(
                feature=ready["id"],
                name="Enterprise ARR",
                baseline="0",
                target="300000",
                review_date=today,
                key_result=self.ids["key_result"],
            ),
        )
        self.pages(
            "v1_workspaces_success_metrics_list", m.PaginatedSuccessMetricOutputList, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_success_metrics_list",
            m.PaginatedSuccessMetricOutputList,
            want=200,
            workspace_slug=slug,
            release=spring,
            review_due=False,
        )
        self.call(
            "v1_workspaces_success_metrics_retrieve",
            m.SuccessMetricOutput,
            want=200,
            workspace_slug=slug,
            id=spare_metric["id"],
        )
        self.call(
            "v1_workspaces_success_metrics_partial_update",
            m.SuccessMetricOutput,
            want=200,
            workspace_slug=slug,
            id=metric["id"],
            body=m.PatchedSuccessMetricUpdateInputRequest(target="30", reviewed=False),
        )
        for value, note in (("12.5", "Week 1"), ("14", "")):
            self.call(
                "v1_workspaces_success_metrics_actuals_create",
                m.MetricActualOutput,
                want=201,
                workspace_slug=slug,
                id=metric["id"],
                body=m.MetricActualInputRequest(value=value, recorded_on=today, note=note),
            )
        self.pages(
            "v1_workspaces_success_metrics_actuals_list",
            m.PaginatedMetricActualOutputList,
            workspace_slug=slug,
            id=metric["id"],
        )
        self.call(
            "v1_workspaces_success_metrics_destroy",
            None,
            want=204,
            workspace_slug=slug,
            id=spare_metric["id"],
        )

        # Readiness, the ship plan and the notes, then shipping.
        self.call(
            "v1_workspaces_releases_readiness_retrieve",
            m.ReleaseReadinessOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
        )
        self.call(
            "v1_workspaces_releases_ship_plan_retrieve",
            m.ShipPlanOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
        )
        self.call(
            "v1_workspaces_releases_notes_retrieve",
            m.ReleaseNotesOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
        )
        self.call(
            "v1_workspaces_releases_notes_generate_create",
            m.ReleaseNotesGeneratedOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
            body=m.ReleaseNotesGenerateInputRequest(save=False),
        )
        self.call(
            "v1_workspaces_releases_notes_preview_create",
            m.ReleaseNotesPreviewOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
            body=m.ReleaseNotesPreviewInputRequest(notes="## New\n\n- **Usage at a glance**"),
        )
        self.call(
            "v1_workspaces_releases_notes_partial_update",
            m.ReleaseNotesOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
            body=m.PatchedReleaseNotesInputRequest(notes="## New\n\n- **Usage at a glance** for every team"),
        )
        self.call(
            "v1_workspaces_releases_notes_publish_create",
            m.ReleaseNotesOutput,
            want=200,
            workspace_slug=slug,
            id=spring,
        )
        # 409 must_haves_unfinished, with the features in the error item.
        self.error(
            "v1_workspaces_releases_ship_create",
            409,
            workspace_slug=slug,
            id=spring,
            body=m.ReleaseShipInputRequest(),
        )
        blocked = self.last_response.json() if self.last_response is not None else {}
        if [f["id"] for f in blocked.get("errors", [{}])[0].get("features", [])] != [todo["id"]]:
            self.problem(
                "v1_workspaces_releases_ship_create", "parse", "409 without the features", str(blocked)
            )
        for changed in (True, False):  # forced by the owner; then again: nothing changes
            shipped = self.call(
                "v1_workspaces_releases_ship_create",
                m.ShipOutput,
                want=200,
                workspace_slug=slug,
                id=spring,
                body=m.ReleaseShipInputRequest(force=True, reason="Launch event", move_unfinished_to=summer),
            )
            if shipped.parsed is not None and shipped.parsed.changed is not changed:
                self.problem("v1_workspaces_releases_ship_create", "status", f"changed is not {changed}")
        self.call(
            "v1_workspaces_releases_cancel_create",
            m.ReleaseOutput,
            want=200,
            workspace_slug=slug,
            id=summer,
            body=m.ReleaseCancelInputRequest(reason="Folded into autumn"),
        )
        self.call("v1_workspaces_releases_destroy", None, want=204, workspace_slug=slug, id=spare)
        self.pages(
            "v1_workspaces_features_status_history_list",
            m.PaginatedFeatureStatusChangeOutputList,
            workspace_slug=slug,
            id=ready["id"],
        )

    def release_settings(self) -> None:
        m, slug = self.models, self.slug
        self.call(
            "v1_workspaces_release_settings_retrieve", m.ReleaseSettingsOutput, want=200, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_release_settings_partial_update",
            m.ReleaseSettingsOutput,
            want=200,
            workspace_slug=slug,
            body=m.PatchedReleaseSettingsInputRequest(risk_window_days=10),
        )
        self.call(
            "v1_workspaces_changelog_settings_retrieve",
            m.ChangelogSettingsOutput,
            want=200,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_changelog_settings_partial_update",
            m.ChangelogSettingsOutput,
            want=200,
            workspace_slug=slug,
            body=m.PatchedChangelogSettingsInputRequest(
                enabled=True, title="What's new", intro="Fresh each month."
            ),
        )

    # -- feedback

    def companies(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_companies_create",
            m.CompanyOutput,
            want=201,
            workspace_slug=slug,
            body=m.CompanyInputRequest(
                name="Initech",
                domain="https://www.initech.example/about",
                segment=m.SegmentEnum.ENTERPRISE,
                plan="Enterprise",
                arr="250000.00",
                arr_currency="USD",
                lifecycle_stage=m.LifecycleStageEnum.ACTIVE,
                crm_external_id="crm-initech",
            ),
        )
        self.ids["company"] = created["id"]
        # No segment, no lifecycle stage: the "unset" values must parse too.
        spare = self.call(
            "v1_workspaces_companies_create",
            m.CompanyOutput,
            want=201,
            workspace_slug=slug,
            body=m.CompanyInputRequest(name="Doomed Co"),
        )
        self.pages("v1_workspaces_companies_list", m.PaginatedCompanyOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_companies_list",
            m.PaginatedCompanyOutputList,
            want=200,
            workspace_slug=slug,
            segment=m.V1WorkspacesCompaniesListSegment.ENTERPRISE,
            lifecycle_stage=m.V1WorkspacesCompaniesListLifecycleStage.ACTIVE,
            search="initech",
        )
        self.call(
            "v1_workspaces_companies_retrieve", m.CompanyOutput, want=200, workspace_slug=slug, id=spare["id"]
        )
        self.call(
            "v1_workspaces_companies_partial_update",
            m.CompanyOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedCompanyInputRequest(plan="Enterprise Plus", arr="275000"),
        )
        # Upsert by CRM id: a new one (201), then the existing one (200).
        self.call(
            "v1_workspaces_companies_by_external_id_update",
            m.CompanyOutput,
            want=201,
            workspace_slug=slug,
            crm_external_id="crm-hooli",
            body=m.CompanyInputRequest(
                name="Hooli", domain="hooli.example", segment=m.SegmentEnum.MID_MARKET
            ),
        )
        self.call(
            "v1_workspaces_companies_by_external_id_update",
            m.CompanyOutput,
            want=200,
            workspace_slug=slug,
            crm_external_id="crm-initech",
            body=m.CompanyInputRequest(
                name="Initech", domain="initech.example", segment=m.SegmentEnum.ENTERPRISE
            ),
        )
        self.call("v1_workspaces_companies_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def contacts(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_contacts_create",
            m.ContactOutput,
            want=201,
            workspace_slug=slug,
            body=m.ContactInputRequest(email="ann@initech.example", name="Ann", company=self.ids["company"]),
        )
        self.ids["contact"] = created["id"]
        spare = self.call(
            "v1_workspaces_contacts_create",
            m.ContactOutput,
            want=201,
            workspace_slug=slug,
            body=m.ContactInputRequest(email="bob@nowhere.example"),
        )
        self.pages("v1_workspaces_contacts_list", m.PaginatedContactOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_contacts_list",
            m.PaginatedContactOutputList,
            want=200,
            workspace_slug=slug,
            company=self.ids["company"],
        )
        self.call(
            "v1_workspaces_contacts_retrieve", m.ContactOutput, want=200, workspace_slug=slug, id=spare["id"]
        )
        self.call(
            "v1_workspaces_contacts_partial_update",
            m.ContactOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedContactInputRequest(name="Ann Smith"),
        )
        upserted = self.call(
            "v1_workspaces_contacts_by_external_id_update",
            m.ContactOutput,
            want=201,
            workspace_slug=slug,
            crm_external_id="crm-contact-7",
            body=m.ContactInputRequest(email="carol@initech.example", name="Carol"),
        )
        self.ids["contact_2"] = upserted["id"]
        self.call(
            "v1_workspaces_contacts_by_external_id_update",
            m.ContactOutput,
            want=200,
            workspace_slug=slug,
            crm_external_id="crm-contact-7",
            body=m.ContactInputRequest(email="carol@initech.example", name="Carol Jones"),
        )
        self.call("v1_workspaces_contacts_destroy", None, want=204, workspace_slug=slug, id=spare["id"])

    def _item(self, want: int = 201, **fields: Any) -> Result:
        m = self.models
        return self.call(
            "v1_workspaces_feedback_create",
            m.FeedbackItemOutput,
            want=want,
            workspace_slug=self.slug,
            body=m.FeedbackItemCreateInputRequest(**fields),
        )

    def feedback(self) -> None:
        m, slug = self.models, self.slug
        first: dict[str, Any] = {
            "text": "We need SSO with Okta before we can roll out to 300 seats",
            "contact": self.ids["contact"],
            "company": self.ids["company"],
            "kind": m.KindEnum.REQUEST,
            "importance": m.ImportanceEnum.CRITICAL,
            "deal_value": "50000",
            "tags": ["sso", "security"],
            "source_url": "https://support.initech.example/tickets/1042",
            "source": m.FeedbackSourceEnum.SUPPORT_TICKET,
            "source_ref": "T-1042",
            "received_at": datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
        }
        created = self.call(
            "v1_workspaces_feedback_create",
            m.FeedbackItemOutput,
            want=201,
            workspace_slug=slug,
            body=m.FeedbackItemCreateInputRequest(**first),
            idempotency_key="generated-client-1",
        )
        # The same source + source_ref again: 200 with the stored item.
        self._item(want=200, **first)
        # A minimal one: no contact, no company, no URL (the "unset" values must parse).
        bare = self._item(text="Reports are slow on Mondays")
        by_email = self._item(
            text="Please export dashboards to PDF",
            contact_email="dave@initech.example",
            contact_name="Dave",
            company_domain="initech.example",
            kind=m.KindEnum.PROBLEM,
        )
        twin_a = self._item(text="Please add a dark mode to the mobile app", tags=["ui"])
        twin_b = self._item(text="Please add a dark mode to the mobile app", tags=["mobile"])
        self.ids.update(item=created["id"], item_bare=bare["id"])

        self.pages("v1_workspaces_feedback_list", m.PaginatedFeedbackItemOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_feedback_list",
            m.PaginatedFeedbackItemOutputList,
            want=200,
            workspace_slug=slug,
            company=self.ids["company"],
            importance=[m.V1WorkspacesFeedbackListImportanceItem.CRITICAL],
            kind=[m.V1WorkspacesFeedbackListKindItem.REQUEST, m.V1WorkspacesFeedbackListKindItem.PROBLEM],
            source=[m.V1WorkspacesFeedbackListSourceItem.SUPPORT_TICKET],
            state=[m.V1WorkspacesFeedbackListStateItem.NEW],
            segment=m.V1WorkspacesFeedbackListSegment.ENTERPRISE,
            received_after=datetime(2025, 1, 1, tzinfo=UTC),
            tag="sso",
        )
        self.call(
            "v1_workspaces_feedback_retrieve",
            m.FeedbackItemOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_feedback_retrieve",
            m.FeedbackItemOutput,
            want=200,
            workspace_slug=slug,
            id=bare["id"],
        )
        self.call(
            "v1_workspaces_feedback_partial_update",
            m.FeedbackItemOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
            body=m.PatchedFeedbackItemUpdateInputRequest(
                importance=m.ImportanceEnum.IMPORTANT, deal_value="60000"
            ),
        )
        self.call(
            "v1_workspaces_feedback_state_create",
            m.FeedbackItemOutput,
            want=200,
            workspace_slug=slug,
            id=by_email["id"],
            body=m.FeedbackStateInputRequest(state=m.StateEnum.REVIEWED),
        )

        # Links: the item asks for features a and b; the link to b is removed again.
        for feature in ("feature_a", "feature_b"):
            self.call(
                "v1_workspaces_feedback_item_links_create",
                m.FeedbackLinkOutput,
                want=201,
                workspace_slug=slug,
                id=created["id"],
                body=m.FeedbackLinkInputRequest(
                    feature=self.ids[feature], importance=m.ImportanceEnum.CRITICAL
                ),
            )
        self.pages(
            "v1_workspaces_feedback_item_links_list",
            m.PaginatedFeedbackLinkOutputList,
            workspace_slug=slug,
            id=created["id"],
        )
        self.call(
            "v1_workspaces_feedback_links_destroy",
            None,
            want=204,
            workspace_slug=slug,
            id=created["id"],
            feature_id=self.ids["feature_b"],
        )
        links = self.pages(
            "v1_workspaces_feedback_links_list",
            m.PaginatedFeedbackLinkListOutputList,
            workspace_slug=slug,
            feature=self.ids["feature_a"],
        )
        self.call(
            "v1_workspaces_feedback_links_retrieve",
            m.FeedbackLinkListOutput,
            want=200,
            workspace_slug=slug,
            id=links["results"][0]["id"],
        )

        bulk = self.call(
            "v1_workspaces_feedback_bulk_create",
            m.FeedbackBulkOutput,
            want=200,
            workspace_slug=slug,
            idempotency_key="generated-client-bulk-1",
            body=m.FeedbackBulkInputRequest(
                items=[
                    m.FeedbackItemCreateInputRequest.from_dict(item)
                    for item in (
                        {
                            "text": "Slack notifications for mentions",
                            "contact": self.ids["contact"],
                            "source": "slack",
                            "source_ref": "S-1",
                        },
                        {
                            "text": "CSV export of the roadmap",
                            "company_domain": "initech.example",
                            "received_at": "2025-03-01T08:00:00Z",
                            "tags": ["export"],
                        },
                        {"text": ""},  # invalid: reported, not stored
                    )
                ]
            ),
        )
        stored = [row["id"] for row in bulk["results"] if row["status"] == "created"]
        self.ids["item_spare"] = stored[-1]
        self.call(
            "v1_workspaces_feedback_bulk_state_create",
            m.FeedbackItemListOutput,
            want=200,
            workspace_slug=slug,
            body=m.FeedbackBulkStateInputRequest(ids=stored, state=m.StateEnum.REVIEWED),
        )
        self.call(
            "v1_workspaces_feedback_similar_create",
            m.SimilarOutput,
            want=200,
            workspace_slug=slug,
            body=m.SimilarInputRequest(text="dark mode for the mobile app"),
        )

        # What the worker does for a new item: find its likely duplicates.
        feedback_services.duplicates_find(item_id=twin_a["id"])
        duplicates = self.pages(
            "v1_workspaces_feedback_duplicates_list",
            m.PaginatedDuplicateSuggestionOutputList,
            workspace_slug=slug,
            id=twin_a["id"],
        )
        self.call(
            "v1_workspaces_feedback_duplicates_dismiss_create",
            m.DuplicateSuggestionOutput,
            want=200,
            workspace_slug=slug,
            id=twin_a["id"],
            suggestion_id=duplicates["results"][0]["id"],
        )
        self.call(
            "v1_workspaces_feedback_merge_create",
            m.FeedbackItemOutput,
            want=200,
            workspace_slug=slug,
            id=twin_b["id"],
            body=m.FeedbackMergeInputRequest(into=twin_a["id"]),
        )
        # A merged item's detail is the documented 301 to the survivor.
        self.call(
            "v1_workspaces_feedback_retrieve",
            m.MergedRedirectOutput,
            want=301,
            workspace_slug=slug,
            id=twin_b["id"],
        )

        self.call("v1_workspaces_feedback_volume_retrieve", m.VolumeOutput, want=200, workspace_slug=slug)
        self.call(
            "v1_workspaces_feedback_volume_retrieve",
            m.VolumeOutput,
            want=200,
            workspace_slug=slug,
            by=m.V1WorkspacesFeedbackVolumeRetrieveBy.TAG,
            weeks=8,
        )
        self.call(
            "v1_workspaces_feedback_top_features_list",
            list,
            items=m.TopFeatureOutput,
            want=200,
            workspace_slug=slug,
            limit=10,
        )
        self.call(
            "v1_workspaces_feedback_destroy", None, want=204, workspace_slug=slug, id=self.ids["item_spare"]
        )

    def feedback_channels(self) -> None:
        m, client_types, slug = self.models, self.types, self.slug
        csv_file = (
            b"text,email,name,company,domain,importance,tags\n"
            b"Gantt view please,erin@initech.example,Erin,Initech,initech.example,important,planning\n"
            b",nobody@initech.example,,,,,\n"
        )
        self.call(
            "v1_workspaces_feedback_import_csv_create",
            m.CsvImportReportOutput,
            want=200,
            workspace_slug=slug,
            body=m.CsvImportInputRequest(
                file=client_types.File(
                    payload=io.BytesIO(csv_file), file_name="feedback.csv", mime_type="text/csv"
                ),
                map_=["name=contact_name"],
            ),
        )
        message = (
            b"From: Frank <frank@initech.example>\r\n"
            b"To: feedback@productops.example\r\n"
            b"Subject: Offline mode\r\n"
            b"Message-ID: <generated-client-1@initech.example>\r\n"
            b"Date: Mon, 3 Mar 2025 10:00:00 +0000\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"\r\n"
            b"We would love an offline mode for field workers.\r\n"
        )
        for status in (201, 200):  # the same Message-ID again: 200
            self.call(
                "v1_workspaces_feedback_inbound_email_create",
                m.IngestedOutput,
                want=status,
                workspace_slug=slug,
                body=client_types.File(payload=io.BytesIO(message), mime_type="message/rfc822"),
            )

    def feedback_settings(self) -> None:
        m, slug = self.models, self.slug
        self.call(
            "v1_workspaces_feedback_settings_retrieve",
            m.FeedbackSettingsOutput,
            want=200,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_feedback_settings_partial_update",
            m.FeedbackSettingsOutput,
            want=200,
            workspace_slug=slug,
            body=m.PatchedFeedbackSettingsInputRequest(semantic_suggestions=False),
        )

    def feedback_themes(self) -> None:
        """Two topics of unlinked feedback, clustered (what the worker does), then the list,
        a theme, its items, a recompute request, "wrong theme", a feature from one theme and
        the other linked to an existing feature."""
        m, slug = self.models, self.slug
        dark_mode = [
            "Dark mode please",
            "A dark theme please",
            "Dark mode for night shifts",
            "Dark mode now",
        ]
        pdf_export = [
            "Exporting a dashboard to PDF cuts off the last column.",
            "PDF export of the report please.",
            "Export the table to PDF.",
            "The PDF export is missing charts.",
        ]
        for text in dark_mode:
            self._item(text=text, company=self.ids["company"])
        for text in pdf_export:
            self._item(text=text)
        found = theme_services.themes_recompute(workspace_id=self.workspace_id, period_days=30)
        by_topic = {
            topic: next(theme.pk for theme in found if topic in theme.words) for topic in ("dark", "pdf")
        }

        listed = self.pages(
            "v1_workspaces_feedback_themes_list", m.PaginatedThemeOutputList, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_feedback_themes_list",
            m.PaginatedThemeOutputList,
            want=200,
            workspace_slug=slug,
            period_days=m.V1WorkspacesFeedbackThemesListPeriodDays.VALUE_30,
        )
        if listed.json["count"] != len(found) or len(found) < 2:
            self.problem(
                "v1_workspaces_feedback_themes_list",
                "value",
                f"count {listed.json['count']}, expected the {len(found)} themes recomputed (at least 2)",
                listed.text,
            )
        detail = self.call(
            "v1_workspaces_feedback_themes_retrieve",
            m.ThemeDetailOutput,
            want=200,
            workspace_slug=slug,
            id=by_topic["dark"],
        )
        self.pages(
            "v1_workspaces_feedback_themes_items_list",
            m.PaginatedThemeItemOutputList,
            workspace_slug=slug,
            id=by_topic["dark"],
        )
        self.call(
            "v1_workspaces_feedback_themes_recompute_create",
            m.ThemeRecomputeOutput,
            want=202,
            workspace_slug=slug,
            body=m.ThemeRecomputeInputRequest(period_days=m.PeriodDaysEnum.VALUE_30),
        )
        # "Wrong theme": a dark-mode item out of the dark-mode theme; a PDF one is not in it (400).
        dismissed = self.call(
            "v1_workspaces_feedback_themes_dismiss_item_create",
            m.ThemeOutput,
            want=200,
            workspace_slug=slug,
            id=by_topic["dark"],
            body=m.ThemeDismissItemInputRequest(item=detail["items"][-1]["id"]),
        )
        if dismissed.parsed is not None and dismissed.parsed.size != detail["size"] - 1:
            self.problem(
                "v1_workspaces_feedback_themes_dismiss_item_create",
                "value",
                f"size {dismissed.parsed.size}, expected {detail['size'] - 1}",
                dismissed.text,
            )
        pdf_items = self.call(
            "v1_workspaces_feedback_themes_items_list",
            m.PaginatedThemeItemOutputList,
            want=200,
            workspace_slug=slug,
            id=by_topic["pdf"],
        )
        self.error(
            "v1_workspaces_feedback_themes_dismiss_item_create",
            400,
            workspace_slug=slug,
            id=by_topic["dark"],
            body=m.ThemeDismissItemInputRequest(item=pdf_items["results"][0]["id"]),
        )
        feature = self.call(
            "v1_workspaces_feedback_themes_create_feature_create",
            m.FeatureSummary,
            want=201,
            workspace_slug=slug,
            id=by_topic["dark"],
            body=m.ThemeCreateFeatureInputRequest(
                product=self.ids["product"],
                title="Dark mode everywhere",
                importance=m.ImportanceEnum.IMPORTANT,
            ),
        )
        if feature.parsed is not None and feature.parsed.title != "Dark mode everywhere":
            self.problem(
                "v1_workspaces_feedback_themes_create_feature_create",
                "value",
                f"title {feature.parsed.title!r}",
                feature.text,
            )
        linked = self.call(
            "v1_workspaces_feedback_themes_link_feature_create",
            m.ThemeLinkFeatureOutput,
            want=200,
            workspace_slug=slug,
            id=by_topic["pdf"],
            body=m.ThemeLinkFeatureInputRequest(feature=self.ids["feature_a"]),
        )
        if linked.parsed is not None and linked.parsed.linked != pdf_items["count"]:
            self.problem(
                "v1_workspaces_feedback_themes_link_feature_create",
                "value",
                f"linked {linked.parsed.linked}, expected the theme's {pdf_items['count']} items",
                linked.text,
            )

    def votes(self) -> None:
        m, slug = self.models, self.slug
        body = m.VoteInputRequest(contact=self.ids["contact"], feature=self.ids["feature_a"])
        created = self.call(
            "v1_workspaces_votes_create", m.VoteOutput, want=201, workspace_slug=slug, body=body
        )
        self.call("v1_workspaces_votes_create", m.VoteOutput, want=200, workspace_slug=slug, body=body)
        spare = self.call(
            "v1_workspaces_votes_create",
            m.VoteOutput,
            want=201,
            workspace_slug=slug,
            body=m.VoteInputRequest(contact=self.ids["contact_2"], feature=self.ids["feature_b"]),
        )
        self.pages("v1_workspaces_votes_list", m.PaginatedVoteOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_votes_list",
            m.PaginatedVoteOutputList,
            want=200,
            workspace_slug=slug,
            feature=self.ids["feature_a"],
            contact=self.ids["contact"],
        )
        self.call(
            "v1_workspaces_votes_retrieve", m.VoteOutput, want=200, workspace_slug=slug, id=created["id"]
        )
        self.call("v1_workspaces_votes_destroy", None, want=204, workspace_slug=slug, id=spare["id"])
        # After the votes and links: the demand reports have rows to show.
        priority_services.priorities_recompute(workspace_id=self.workspace_id, full=True)
        self.call(
            "v1_workspaces_feedback_top_features_list",
            list,
            items=m.TopFeatureOutput,
            want=200,
            workspace_slug=slug,
        )
        self.call(
            "v1_workspaces_features_score_retrieve",
            m.ScoreBreakdownOutput,
            want=200,
            workspace_slug=slug,
            id=self.ids["feature_a"],
        )

    def inbound_webhooks(self) -> None:
        m, slug = self.models, self.slug
        created = self.call(
            "v1_workspaces_inbound_webhooks_create",
            m.InboundWebhookSecretOutput,
            want=201,
            workspace_slug=slug,
            body=m.InboundWebhookCreateInputRequest(provider=m.ProviderEnum.GENERIC, name="Relay"),
        )
        spare = self.call(
            "v1_workspaces_inbound_webhooks_create",
            m.InboundWebhookSecretOutput,
            want=201,
            workspace_slug=slug,
            body=m.InboundWebhookCreateInputRequest(provider=m.ProviderEnum.SLACK),
        )
        self.pages(
            "v1_workspaces_inbound_webhooks_list", m.PaginatedInboundWebhookOutputList, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_inbound_webhooks_retrieve",
            m.InboundWebhookOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        rotated = self.call(
            "v1_workspaces_inbound_webhooks_rotate_secret_create",
            m.InboundWebhookSecretOutput,
            want=200,
            workspace_slug=slug,
            id=created["id"],
        )
        # A delivery, signed with the new secret as docs/api.md describes. The generated
        # client sends `json=body.to_dict()`, which httpx encodes compactly; the signature
        # is over those exact bytes.
        delivery = m.V1InboundCreateBody.from_dict(
            {
                "text": "Please add SSO",
                "email": "gina@initech.example",
                "external_id": "42",
                "tags": ["relay"],
            }
        )
        raw = json.dumps(
            delivery.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        for status in (201, 200):  # a repeated delivery: 200 with the same id
            timestamp = str(int(time.time()))
            signature = hmac.new(rotated["secret"].encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
            self.call(
                "v1_inbound_create",
                m.IngestedOutput,
                want=status,
                client=self.anonymous,
                public_id=created["public_id"],
                body=delivery,
                x_productops_signature=f"sha256={signature.hexdigest()}",
                x_productops_timestamp=timestamp,
            )
        self.call(
            "v1_workspaces_inbound_webhooks_destroy", None, want=204, workspace_slug=slug, id=spare["id"]
        )

    # -- error answers: the generated client parses them too

    # -- comms

    def comms(self) -> None:
        """Stakeholders, subscriptions and their digests, webhook endpoints, thresholds, the
        delivery log and the close-the-loop previews."""
        m, slug = self.models, self.slug
        self.call(
            "v1_workspaces_comms_settings_retrieve", m.CommsSettingsOutput, want=200, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_comms_settings_partial_update",
            m.CommsSettingsOutput,
            want=200,
            workspace_slug=slug,
            body=m.PatchedCommsSettingsInputRequest(notify_imported_contacts=True, digest_rank_moves=3),
        )
        executive = self.call(
            "v1_workspaces_stakeholders_create",
            m.StakeholderOutput,
            want=201,
            workspace_slug=slug,
            body=m.StakeholderCreateInputRequest(
                kind=m.StakeholderKindEnum.MEMBER,
                user=self.people.owner.pk,
                audience=m.AudienceEnum.EXECUTIVE,
            ),
        )
        external = self.call(
            "v1_workspaces_stakeholders_create",
            m.StakeholderOutput,
            want=201,
            workspace_slug=slug,
            body=m.StakeholderCreateInputRequest(
                email="board@initech.example", audience=m.AudienceEnum.SALES
            ),
        )
        self.call(
            "v1_workspaces_stakeholders_create",
            m.StakeholderOutput,
            want=201,
            workspace_slug=slug,
            body=m.StakeholderCreateInputRequest(
                kind=m.StakeholderKindEnum.CONTACT,
                contact=self.ids["contact"],
                audience=m.AudienceEnum.CUSTOMER,
            ),
        )
        self.pages("v1_workspaces_stakeholders_list", m.PaginatedStakeholderOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_stakeholders_list",
            m.PaginatedStakeholderOutputList,
            want=200,
            workspace_slug=slug,
            audience=[m.V1WorkspacesStakeholdersListAudienceItem.SALES],
            kind=m.V1WorkspacesStakeholdersListKind.EXTERNAL,
            unsubscribed=False,
            search="board",
        )
        self.call(
            "v1_workspaces_stakeholders_retrieve",
            m.StakeholderOutput,
            want=200,
            workspace_slug=slug,
            id=executive["id"],
        )
        self.call(
            "v1_workspaces_stakeholders_partial_update",
            m.StakeholderOutput,
            want=200,
            workspace_slug=slug,
            id=external["id"],
            body=m.PatchedStakeholderUpdateInputRequest(name="The board", audience=m.AudienceEnum.MARKETING),
        )
        self.call(
            "v1_workspaces_stakeholders_digest_preview_retrieve",
            m.DigestPreviewOutput,
            want=200,
            workspace_slug=slug,
            id=executive["id"],
            since=datetime.now(UTC) - timedelta(days=14),
        )
        weekly = self.call(
            "v1_workspaces_subscriptions_create",
            m.SubscriptionOutput,
            want=201,
            workspace_slug=slug,
            body=m.SubscriptionCreateInputRequest(
                stakeholder=executive["id"],
                follows=m.FollowsInputRequest(type_=m.SubscriptionTargetEnum.WORKSPACE),
                time_zone="Europe/Paris",
                local_hour=8,
            ),
        )
        slack = self.call(
            "v1_workspaces_subscriptions_create",
            m.SubscriptionOutput,
            want=201,
            workspace_slug=slug,
            body=m.SubscriptionCreateInputRequest(
                stakeholder=external["id"],
                follows=m.FollowsInputRequest(type_=m.SubscriptionTargetEnum.PRODUCT, id=self.ids["product"]),
                channel=m.SubscriptionChannelEnum.SLACK,
                slack_url="https://hooks.slack.com/services/T000/B000/generated",
                cadence=m.CadenceEnum.DAILY,
            ),
        )
        self.pages("v1_workspaces_subscriptions_list", m.PaginatedSubscriptionOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_subscriptions_list",
            m.PaginatedSubscriptionOutputList,
            want=200,
            workspace_slug=slug,
            stakeholder=executive["id"],
            cadence=m.V1WorkspacesSubscriptionsListCadence.WEEKLY,
            channel=m.V1WorkspacesSubscriptionsListChannel.EMAIL,
            is_active=True,
        )
        self.call(
            "v1_workspaces_subscriptions_retrieve",
            m.SubscriptionOutput,
            want=200,
            workspace_slug=slug,
            id=slack["id"],
        )
        self.call(
            "v1_workspaces_subscriptions_partial_update",
            m.SubscriptionOutput,
            want=200,
            workspace_slug=slug,
            id=weekly["id"],
            body=m.PatchedSubscriptionUpdateInputRequest(cadence=m.CadenceEnum.WEEKLY, weekday=5),
        )
        self.call(
            "v1_workspaces_subscriptions_digest_preview_retrieve",
            m.DigestPreviewOutput,
            want=200,
            workspace_slug=slug,
            id=slack["id"],
        )
        self.call(
            "v1_workspaces_subscriptions_send_test_create",
            m.DeliveryDetailOutput,
            want=201,
            workspace_slug=slug,
            id=weekly["id"],
        )
        self.call("v1_workspaces_subscriptions_destroy", None, want=204, workspace_slug=slug, id=slack["id"])
        self.call(
            "v1_workspaces_stakeholders_destroy", None, want=204, workspace_slug=slug, id=external["id"]
        )

        endpoint = self.call(
            "v1_workspaces_webhook_endpoints_create",
            m.WebhookEndpointSecretOutput,
            want=201,
            workspace_slug=slug,
            body=m.WebhookEndpointCreateInputRequest(
                name="Warehouse",
                url="https://hooks.initech.example/productops",
                event_types=[
                    m.WebhookEventTypeEnum.RELEASE_SHIPPED,
                    m.WebhookEventTypeEnum.PRIORITY_RANK_CHANGED,
                ],
                rank_top_n=5,
            ),
        )
        spare = self.call(
            "v1_workspaces_webhook_endpoints_create",
            m.WebhookEndpointSecretOutput,
            want=201,
            workspace_slug=slug,
            body=m.WebhookEndpointCreateInputRequest(
                name="Team channel",
                url="https://hooks.slack.com/services/T000/B000/endpoint",
                format_=m.WebhookFormatEnum.SLACK,
            ),
        )
        self.pages(
            "v1_workspaces_webhook_endpoints_list", m.PaginatedWebhookEndpointOutputList, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_webhook_endpoints_retrieve",
            m.WebhookEndpointOutput,
            want=200,
            workspace_slug=slug,
            id=endpoint["id"],
        )
        self.call(
            "v1_workspaces_webhook_endpoints_partial_update",
            m.WebhookEndpointOutput,
            want=200,
            workspace_slug=slug,
            id=endpoint["id"],
            body=m.PatchedWebhookEndpointUpdateInputRequest(name="Data warehouse"),
        )
        self.call(
            "v1_workspaces_webhook_endpoints_rotate_secret_create",
            m.WebhookEndpointSecretOutput,
            want=200,
            workspace_slug=slug,
            id=endpoint["id"],
        )
        test = self.call(
            "v1_workspaces_webhook_endpoints_send_test_create",
            m.DeliveryDetailOutput,
            want=201,
            workspace_slug=slug,
            id=endpoint["id"],
        )
        self.pages(
            "v1_workspaces_webhook_endpoints_deliveries_list",
            m.PaginatedDeliveryOutputList,
            workspace_slug=slug,
            id=endpoint["id"],
        )
        self.call(
            "v1_workspaces_webhook_endpoints_destroy", None, want=204, workspace_slug=slug, id=spare["id"]
        )

        companies = self.call(
            "v1_workspaces_thresholds_create",
            m.ThresholdOutput,
            want=201,
            workspace_slug=slug,
            body=m.ThresholdCreateInputRequest(rule="companies >= 5"),
        )
        arr = self.call(
            "v1_workspaces_thresholds_create",
            m.ThresholdOutput,
            want=201,
            workspace_slug=slug,
            body=m.ThresholdCreateInputRequest(rule="arr >= 250k"),
        )
        self.pages("v1_workspaces_thresholds_list", m.PaginatedThresholdOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_thresholds_retrieve",
            m.ThresholdOutput,
            want=200,
            workspace_slug=slug,
            id=companies["id"],
        )
        self.call("v1_workspaces_thresholds_destroy", None, want=204, workspace_slug=slug, id=arr["id"])

        self.pages("v1_workspaces_deliveries_list", m.PaginatedDeliveryOutputList, workspace_slug=slug)
        self.call(
            "v1_workspaces_deliveries_list",
            m.PaginatedDeliveryOutputList,
            want=200,
            workspace_slug=slug,
            state=[
                m.V1WorkspacesDeliveriesListStateItem.PENDING,
                m.V1WorkspacesDeliveriesListStateItem.FAILED,
            ],
            channel=m.V1WorkspacesDeliveriesListChannel.WEBHOOK,
            kind="webhook.event",
            recipient_ref=f"endpoint:{endpoint['id']}",
            created_after=self.started_at,
        )
        self.call(
            "v1_workspaces_deliveries_retrieve",
            m.DeliveryDetailOutput,
            want=200,
            workspace_slug=slug,
            id=test["id"],
        )
        # What the sender records after the receiver kept failing (no receiver runs here).
        Delivery.objects.filter(pk=test["id"]).update(
            state=DeliveryState.FAILED, attempts=8, last_error="HTTP 503"
        )
        self.call(
            "v1_workspaces_deliveries_retry_create",
            m.DeliveryOutput,
            want=200,
            workspace_slug=slug,
            id=test["id"],
        )

        self.call(
            "v1_workspaces_releases_loop_preview_retrieve",
            m.LoopPreviewOutput,
            want=200,
            workspace_slug=slug,
            id=self.ids["release"],
        )
        self.call(
            "v1_workspaces_features_loop_preview_retrieve",
            m.FeatureLoopPreviewOutput,
            want=200,
            workspace_slug=slug,
            id=self.ids["feature_a"],
            outcome=m.V1WorkspacesFeaturesLoopPreviewRetrieveOutcome.DECLINED,
            customer_message="Not this year, sorry.",
        )

    def error_answers(self) -> None:
        m, slug = self.models, self.slug
        self.error(  # 400: a product name already used (case-insensitively)
            "v1_workspaces_products_create",
            400,
            workspace_slug=slug,
            body=m.ProductInputRequest(name="analytics"),
        )
        self.error("v1_workspaces_features_retrieve", 404, workspace_slug=slug, id=10**9)
        self.error(  # 409 has_dependants: a depends on b
            "v1_workspaces_features_destroy", 409, workspace_slug=slug, id=self.ids["feature_b"]
        )
        self.error(  # 409 feature_merged (with merged_into): d was merged into c
            "v1_workspaces_votes_create",
            409,
            workspace_slug=slug,
            body=m.VoteInputRequest(contact=self.ids["contact"], feature=self.ids["feature_d"]),
        )
        self.error(  # 422: an Idempotency-Key reused with another body
            "v1_workspaces_feedback_create",
            422,
            workspace_slug=slug,
            idempotency_key="generated-client-1",
            body=m.FeedbackItemCreateInputRequest(text="Something else entirely"),
        )
        bad_token = self.client_module.AuthenticatedClient(
            base_url=BASE_URL,
            token="po_not-a-token",
            raise_on_unexpected_status=True,
            httpx_args=self._httpx_args(),
        )
        self.error("v1_workspaces_products_list", 401, client=bad_token, workspace_slug=slug)

    # -- filters as the generated signatures type them

    def typed_filters(self) -> None:
        """Each list filter the generated client types as ``float`` (the schema says
        ``number``), passed as a float the way its signature asks: ``?product=3.0``."""
        ids = {
            "actor": self.people.owner.pk,
            "user": self.people.owner.pk,
            "owner": self.people.owner.pk,
            "company": self.ids["company"],
            "contact": self.ids["contact"],
            "feature": self.ids["feature_a"],
            "goal": self.ids["goal"],
            "parent": self.ids["goal"],
            "initiative": self.ids["initiative"],
            "item": self.ids["item"],
            "merged_into": self.ids["item"],
            "product": self.ids["product"],
            "team": self.ids["team"],
        }
        for operation, module in sorted(self.generated.operations.items()):
            signature = inspect.signature(module.sync_detailed)
            floats = [
                name
                for name, parameter in signature.parameters.items()
                if float in typing.get_args(parameter.annotation)
            ]
            if not floats:
                continue
            expect = self.documented_model(operation, 200)
            path = {"workspace_slug": self.slug} if "workspace_slug" in signature.parameters else {}
            for name in floats:
                if name not in ids:
                    self.problem(operation, "crash", f"typed_filters has no id for `{name}`")
                    continue
                self.call(
                    operation,
                    expect,
                    want=200,
                    context=f" for `?{name}={float(ids[name])}` (typed float by the schema)",
                    **path,
                    **{name: float(ids[name])},
                )

    # -- the end: removals, tombstones, the audit log

    def tombstones(self) -> None:
        m, slug = self.models, self.slug
        self.call("v1_workspaces_members_destroy", None, want=204, workspace_slug=slug, id=self.ids["member"])
        self.call(
            "v1_workspaces_members_destroy",
            None,
            want=204,
            workspace_slug=slug,
            id=self.ids["invitee_member"],
        )
        # Every `deleted/` list the client has, each after its kind lost a row above.
        for operation in sorted(op for op in self.generated.operations if op.endswith("_deleted_list")):
            self.pages(operation, m.PaginatedTombstoneOutputList, workspace_slug=slug)
            self.call(
                operation,
                m.PaginatedTombstoneOutputList,
                want=200,
                workspace_slug=slug,
                since=self.started_at,
            )

    def audit_events(self) -> None:
        m, slug = self.models, self.slug
        listed = self.pages(
            "v1_workspaces_audit_events_list", m.PaginatedAuditEventOutputList, workspace_slug=slug
        )
        self.call(
            "v1_workspaces_audit_events_list",
            m.PaginatedAuditEventOutputList,
            want=200,
            workspace_slug=slug,
            action=m.V1WorkspacesAuditEventsListAction.DELETED,
            actor=self.people.owner.pk,
            created_after=self.started_at,
        )
        self.call(
            "v1_workspaces_audit_events_retrieve",
            m.AuditEventOutput,
            want=200,
            workspace_slug=slug,
            id=listed["results"][0]["id"],
        )


# --- fixtures and tests -------------------------------------------------------------------


@pytest.fixture(scope="module")
def _old_connections_kept() -> Iterator[None]:
    # The WSGI handler closes "old" connections when a request starts and finishes,
    # which inside the walk's transaction would break it; Django's test client
    # disconnects the same receivers, but only around its own requests (and connects
    # them again after each one, so this must be set up after `generated`).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def walk(generated, _old_connections_kept, django_db_setup, django_db_blocker) -> WalkReport:
    started = time.monotonic()
    # Every call would log a line (httpx) and every expected 4xx a warning (Django).
    loggers = {name: logging.getLogger(name) for name in ("httpx", "django.request")}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    try:
        return _walk(generated, django_db_blocker, started)
    finally:
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


def _walk(generated: Generated, django_db_blocker: Any, started: float) -> WalkReport:
    with django_db_blocker.unblock(), transaction.atomic():
        owner = User.objects.create_user(
            username="gc-owner", email="gc-owner@initech.example", password="generated-client"
        )
        member = User.objects.create_user(
            username="gc-member", email="gc-member@initech.example", password="generated-client"
        )
        invitee = User.objects.create_user(
            username="gc-invitee", email="gc-invitee@initech.example", password="generated-client"
        )
        workspace = core_services.workspace_create(name="Generated Client", slug=WORKSPACE_SLUG, owner=owner)
        core_services.membership_add(workspace=workspace, user=member, role=Role.CONTRIBUTOR, actor=None)
        _, key = core_services.api_token_create(
            workspace=workspace, user=owner, name="generated client", scopes=("read", "write"), actor=None
        )
        runner = ProductopsWalk(
            generated,
            key=key,
            # What get_wsgi_application() returns, without its django.setup() (which
            # would configure logging again).
            wsgi_app=WSGIHandler(),
            people=People(owner=owner, member=member, invitee=invitee),
            slug=workspace.slug,
            workspace_id=workspace.pk,
        )
        runner.all()
        transaction.set_rollback(True)
    runner.report.seconds = time.monotonic() - started
    return runner.report


SCHEMA_MISMATCHES = ("undocumented_field", "wrong_type")


def _listing(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def test_generator_skips_nothing(generated) -> None:
    """openapi-python-client generated every operation and model of the schema."""
    fatal = [w for w in generated.warnings if w.fatal]
    assert not fatal, "generator warnings:\n" + "\n".join(f"- {w}" for w in fatal)


def test_every_call_answers_and_parses(walk) -> None:
    """Each call answered the expected 2xx (or the documented 301) and the generated client
    parsed it into its generated model."""
    problems = walk.of_kind(*SCHEMA_MISMATCHES, exclude=True)
    assert not problems, (
        f"{len(problems)} problem(s) in {sum(walk.calls.values())} calls:\n{_listing(problems)}"
    )


def test_parsed_models_match_the_schema(walk) -> None:
    """No parsed model kept undocumented keys, and every value has its field's declared type."""
    problems = walk.of_kind(*SCHEMA_MISMATCHES)
    assert not problems, f"{len(problems)} mismatch(es):\n{_listing(problems)}"


def test_every_generated_operation_is_exercised(generated, walk) -> None:
    """Every operation module of the generated client was called (but SKIPPED_OPERATIONS)."""
    print(
        f"\n{len(walk.calls)} of {len(generated.operations)} generated operations exercised, "
        f"{sum(walk.calls.values())} calls in {walk.seconds:.1f}s:"
    )
    for operation, count in sorted(walk.calls.items()):
        print(f"  {operation} x{count}")
    stale = sorted(set(SKIPPED_OPERATIONS) - set(generated.operations))
    assert not stale, f"SKIPPED_OPERATIONS names operations the client does not have: {stale}"
    missed = sorted(set(generated.operations) - set(walk.calls) - set(SKIPPED_OPERATIONS))
    assert not missed, f"generated operations never called: {missed}"
