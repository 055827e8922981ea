"""The server-side limits, as the role's defaults in the app's database, set by ``migrate``.

After every ``migrate`` (``post_migrate``), :func:`apply_role_defaults` runs, on
PostgreSQL::

    ALTER ROLE SESSION_USER IN DATABASE <the database> SET statement_timeout = <ms>;
    ... SET lock_timeout = <ms>; ... SET idle_in_transaction_session_timeout = <ms>;

for each value that differs from what the role already has (so it is idempotent and
cheap; it also runs after every ``flush``). Every new session of that role in that
database then starts with them: the web, the worker, beat, ``manage.py shell``. They are
role defaults rather than libpq startup options because PgBouncer in transaction mode
does not pass startup options. A role that may not change its own defaults gets a
warning naming the statements to run (docs: operators with a separate migration role run
them for the app's role).

``migrate`` itself (``pre_migrate``) runs with the long statement timeout, on its session
and under the long client deadline, so a data migration or an index build is not cut off;
at the end its session is put back to the role's values, so a connection that stays open
after ``migrate`` (pytest-django's) behaves as every later one does. Its ``lock_timeout``
stays the short one: a migration waiting for a table lock fails after 3 s rather than
queueing every request behind it for as long as it waits.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import Token
from typing import Any

from django.db import DatabaseError, connections, transaction

from productops import db

logger = logging.getLogger(__name__)

#: The tokens of the long client deadline set by pre_migrate, by database alias.
_migrate_tokens: dict[str, Token] = {}


def role_defaults() -> dict[str, int]:
    """What every session of the app's role starts with (ms; 0 means no limit)."""
    return {
        "statement_timeout": db.statement_timeout_ms(),
        "lock_timeout": db.lock_timeout_ms(),
        "idle_in_transaction_session_timeout": db.idle_in_transaction_timeout_ms(),
    }


def session_values() -> dict[str, int]:
    """What this process's sessions run with: the role's, or the long ones (``DB_LONG_RUNNING``)."""
    if db.process_is_long_running():
        return {
            "statement_timeout": db.long_statement_timeout_ms(),
            "lock_timeout": 0,
            "idle_in_transaction_session_timeout": 0,
        }
    return role_defaults()


def current_role_defaults(cursor: Any) -> dict[str, str]:
    """The session role's defaults in the current database, as PostgreSQL stores them."""
    cursor.execute(
        """
        SELECT s.setconfig FROM pg_db_role_setting s
        JOIN pg_database d ON d.oid = s.setdatabase
        JOIN pg_roles r ON r.oid = s.setrole
        WHERE d.datname = current_database() AND r.rolname = session_user
        """
    )
    row = cursor.fetchone()
    pairs = (item.split("=", 1) for item in (row[0] if row and row[0] else []))
    return dict(pair for pair in pairs if len(pair) == 2)


def role_statements(database: str, quote: Any, changes: dict[str, int]) -> list[str]:
    return [
        f"ALTER ROLE SESSION_USER IN DATABASE {quote(database)} SET {name} = {int(value)}"
        for name, value in changes.items()
    ]


def apply_role_defaults(using: str = "default") -> list[str]:
    """Set the role's defaults in the database where they differ; the statements run."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    wanted = role_defaults()
    with connection.cursor() as cursor:
        have = current_role_defaults(cursor)
        changes = {name: value for name, value in wanted.items() if have.get(name) != str(value)}
        if not changes:
            return []
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
        statements = role_statements(database, connection.ops.quote_name, changes)
        try:
            # A savepoint if a transaction is open (flush in a test), so a refusal leaves it usable.
            with transaction.atomic(using=using):
                for statement in statements:
                    cursor.execute(statement)
        except DatabaseError as exc:
            logger.warning(
                "Could not set the database role's timeouts (%s: %s); run as a role allowed to: %s",
                exc.__class__.__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                "; ".join(statements),
            )
            return []
    logger.info("Database role timeouts set: %s", "; ".join(statements))
    return statements


def set_session(using: str, values: dict[str, int]) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(f"set_config('{name}', %s, false)" for name in values),
            [str(value) for value in values.values()],
        )


def before_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``pre_migrate``: the long statement timeout for the migration's session and client."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if using not in _migrate_tokens:
        _migrate_tokens[using] = db._per_round_trip_ms.set(db.long_client_timeout_ms())
    set_session(
        using,
        {
            "statement_timeout": db.long_statement_timeout_ms(),
            "idle_in_transaction_session_timeout": db.long_statement_timeout_ms(),
        },
    )


def after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate``: the role's defaults, then this session back to them."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    apply_role_defaults(using)
    set_session(using, session_values())
    token = _migrate_tokens.pop(using, None)
    if token is not None:
        # ValueError: set in another context (a migrate that failed half way, then a flush).
        with contextlib.suppress(ValueError):
            db._per_round_trip_ms.reset(token)


def connect_signals(app_config: Any) -> None:
    """Called from ``ProductopsConfig.ready``: once per migrate, with productops as the sender."""
    from django.db.models.signals import post_migrate, pre_migrate

    pre_migrate.connect(before_migrate, sender=app_config, dispatch_uid="productops.db.before_migrate")
    post_migrate.connect(after_migrate, sender=app_config, dispatch_uid="productops.db.after_migrate")
