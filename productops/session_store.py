"""Django's database sessions, with what a session holds hidden from error reports.

The session hands a new API key or webhook signing secret to the one page that shows it
(post/redirect/get). Should saving it fail, the report's frame variables (the session's
``data``, the row being written) would show that secret; marking ``save`` sensitive hides
every variable of it and of the frames beneath it. ``SESSION_ENGINE`` names this module.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.views.decorators.debug import sensitive_variables


class SessionStore(DatabaseSessionStore):
    @sensitive_variables()
    def save(self, must_create: bool = False) -> None:
        super().save(must_create=must_create)
