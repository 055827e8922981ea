"""Django's PostgreSQL backend with a deadline on every round trip (``productops.db``).

``productops/settings.py`` selects it (``ENGINE = "productops.db.backends.postgresql"``)
whenever ``DATABASE_URL`` is PostgreSQL. It differs from Django's in four places:

* ``Database``: Django connects with ``self.Database.connect(**params)``; here that makes
  a :class:`~productops.db.connection.DeadlineConnection`. With Django's connection pool
  (``OPTIONS["pool"]``) the pool gets the same class (``connection_class``) and a
  ``timeout`` for ``getconn()`` just over the connect timeout, instead of psycopg_pool's
  30 s.
* ``is_usable`` (the ``CONN_HEALTH_CHECKS`` check): ``SELECT 1`` within
  :data:`~productops.db.HEALTH_CHECK_TIMEOUT_MS`, so a blackholed persistent connection
  is replaced after 1 s rather than after the whole client deadline.
* ``get_new_connection``: under a deadline shorter than ``connect_timeout`` (``/readyz``),
  connecting gets the shorter limit (psycopg's minimum is 2 s).
* ``init_connection_state``: a ``DB_LONG_RUNNING`` process (a benchmark's seeding) sets
  the long limits on its sessions. That is a session ``SET``, for direct connections only:
  PgBouncer in transaction mode would hand it to other clients.

Test databases are created and migrated under the long client deadline.
"""

from __future__ import annotations

import math

from django.db.backends.postgresql import base, creation

from productops import db
from productops.db.connection import DeadlineConnection, PsycopgWithDeadlines


class DatabaseCreation(creation.DatabaseCreation):
    def create_test_db(self, *args, **kwargs):
        with db.long_running():
            return super().create_test_db(*args, **kwargs)

    def clone_test_db(self, *args, **kwargs):
        with db.long_running():
            return super().clone_test_db(*args, **kwargs)

    def destroy_test_db(self, *args, **kwargs):
        with db.long_running():
            return super().destroy_test_db(*args, **kwargs)


class DatabaseWrapper(base.DatabaseWrapper):
    Database = PsycopgWithDeadlines()
    creation_class = DatabaseCreation

    @property
    def pool(self):
        options = self.settings_dict["OPTIONS"].get("pool")
        if options and self.alias not in self._connection_pools:
            options = {} if options is True else dict(options)
            options.setdefault("connection_class", DeadlineConnection)
            connect_timeout = int(self.settings_dict["OPTIONS"].get("connect_timeout") or 5)
            options.setdefault("timeout", connect_timeout + 1)
            self.settings_dict["OPTIONS"]["pool"] = options
        return super().pool

    def get_new_connection(self, conn_params):
        limit = db.client_timeout()
        configured = conn_params.get("connect_timeout")
        if limit is not None and configured and limit < float(configured):
            conn_params = {**conn_params, "connect_timeout": max(1, math.ceil(limit))}
        return super().get_new_connection(conn_params)

    def init_connection_state(self):
        super().init_connection_state()
        if db.process_is_long_running() and self.connection is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, false),"
                    " set_config('lock_timeout', '0', false),"
                    " set_config('idle_in_transaction_session_timeout', '0', false)",
                    [str(db.long_statement_timeout_ms())],
                )
            if not self.get_autocommit():
                self.connection.commit()

    def is_usable(self):
        with db.round_trip_limit(db.HEALTH_CHECK_TIMEOUT_MS):
            return super().is_usable()
