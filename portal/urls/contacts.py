"""Contact pages: the list (with search), one contact, and the create, edit and delete forms."""

from django.urls import path

from portal.views import contacts

urlpatterns = [
    path("contacts/", contacts.contact_list, name="contacts"),
    path("contacts/new/", contacts.contact_new, name="contact-new"),
    path("contacts/<int:contact_id>/", contacts.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/edit/", contacts.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/delete/", contacts.contact_delete, name="contact-delete"),
]
