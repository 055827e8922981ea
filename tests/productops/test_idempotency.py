import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from productops.errors import ValidationFailed
from productops.idempotency import IdempotencyKeyReused, idempotency_keys_expire, run_idempotent
from productops.models import IdempotencyKey


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> tuple[int, dict]:
        self.calls += 1
        return 201, {"id": self.calls}


@pytest.mark.django_db
def test_the_same_key_replays_the_first_response(workspace):
    handler = Counter()

    first = run_idempotent(workspace=workspace, key="k1", scope="items", body={"a": 1}, handler=handler)
    second = run_idempotent(workspace=workspace, key="k1", scope="items", body={"a": 1}, handler=handler)

    assert first == (201, {"id": 1}, False)
    assert second == (201, {"id": 1}, True)
    assert handler.calls == 1


@pytest.mark.django_db
def test_keys_are_per_workspace_and_scope_and_absent_keys_always_run(workspace, other_workspace):
    handler = Counter()

    run_idempotent(workspace=workspace, key="k", scope="items", body={}, handler=handler)
    run_idempotent(workspace=other_workspace, key="k", scope="items", body={}, handler=handler)
    run_idempotent(workspace=workspace, key="k", scope="bulk", body={}, handler=handler)
    run_idempotent(workspace=workspace, key=None, scope="items", body={}, handler=handler)
    run_idempotent(workspace=workspace, key=None, scope="items", body={}, handler=handler)

    assert handler.calls == 5
    assert IdempotencyKey.objects.count() == 3


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(workspace):
    run_idempotent(workspace=workspace, key="k1", scope="items", body={"a": 1}, handler=Counter())

    with pytest.raises(IdempotencyKeyReused) as error:
        run_idempotent(workspace=workspace, key="k1", scope="items", body={"a": 2}, handler=Counter())

    assert (error.value.status_code, error.value.code) == (422, "idempotency_key_reused")


@pytest.mark.django_db
def test_a_failed_request_keeps_no_key_so_its_retry_runs(workspace):
    def failing() -> tuple[int, dict]:
        raise ValidationFailed("bad", attr="text")

    with pytest.raises(ValidationFailed):
        run_idempotent(workspace=workspace, key="k1", scope="items", body={}, handler=failing)

    assert IdempotencyKey.objects.count() == 0
    assert (
        run_idempotent(workspace=workspace, key="k1", scope="items", body={}, handler=Counter())[2] is False
    )


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["   ", "x" * 256])
def test_malformed_keys_are_a_400(workspace, key):
    with pytest.raises(ValidationFailed) as error:
        run_idempotent(workspace=workspace, key=key, scope="items", body={}, handler=Counter())

    assert error.value.attr == "Idempotency-Key"
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
def test_old_keys_expire(workspace):
    run_idempotent(workspace=workspace, key="old", scope="items", body={}, handler=Counter())
    run_idempotent(workspace=workspace, key="new", scope="items", body={}, handler=Counter())
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers, so two requests cannot race for one key; CI runs this on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_run_the_handler_once(workspace):
    handler_started, release = threading.Event(), threading.Event()
    calls: list[int] = []
    results: list[tuple] = []

    def slow_handler() -> tuple[int, dict]:
        calls.append(1)
        handler_started.set()
        release.wait(5)
        return 201, {"id": 42}

    def request() -> None:
        try:
            results.append(
                run_idempotent(workspace=workspace, key="k", scope="items", body={}, handler=slow_handler)
            )
        finally:
            connections.close_all()

    first = threading.Thread(target=request)
    first.start()
    assert handler_started.wait(5)
    second = threading.Thread(target=request)
    second.start()  # blocks on the unique index until the first commits
    second.join(0.5)
    assert second.is_alive()
    release.set()
    first.join(5)
    second.join(5)

    assert len(calls) == 1
    assert sorted(results, key=lambda r: r[2]) == [(201, {"id": 42}, False), (201, {"id": 42}, True)]
