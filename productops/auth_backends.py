"""The sign-in backend: Django's ``ModelBackend``, with the password hidden from error reports.

Django marks only ``credentials`` in ``django.contrib.auth.authenticate``; the frames below
it (the backend's ``password``, ``check_password``'s ``raw_password``, the hash upgrade's
setter) are unmarked, and an error report shows the variables of the nearest marked caller's
list only. So an error while the password is checked, such as the save of an upgraded hash
failing, put the password in the report. Marking the backend's ``authenticate`` with every
variable sensitive hides them in all the frames beneath it.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.views.decorators.debug import sensitive_variables


class ModelBackend(DjangoModelBackend):
    @sensitive_variables()
    def authenticate(self, request, username=None, password=None, **kwargs):
        return super().authenticate(request, username=username, password=password, **kwargs)
