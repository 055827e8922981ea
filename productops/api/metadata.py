"""``OPTIONS`` answers: the view's name, description and formats, never a 500.

DRF's default also describes the form of each write method, which for some routes means
looking the object up without the id the route lacks (an AssertionError). The schema
(``/api/schema/``) is where a client learns the forms.
"""

from rest_framework.metadata import SimpleMetadata


class SafeMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        return {}
