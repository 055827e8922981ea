"""Sign in, sign out and password reset: Django's views with the portal's templates.

Sign-in goes through the same failure throttle as the admin and API logins. Reset
requests are limited per client address and per e-mail address, and the e-mailed
link starts with ``PUBLIC_BASE_URL`` (not the request's Host header, which a
client chooses). The reset e-mail is an outbox delivery (kind ``auth.password_reset``,
no workspace), rendered from the same templates and sent by the outbox's sender.
"""

import hashlib
import uuid

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import path, reverse_lazy

from productops.client_address import client_address
from productops.login_throttle import throttle_login
from productops.outbox.models import Channel
from productops.outbox.services import Message, delivery_create
from productops.rate_limit import rate_limit_hit

PASSWORD_RESET_KIND = "auth.password_reset"  # noqa: S105 (an outbox kind, not a secret)

#: Reset e-mails per hour per client address and per e-mail address.
RESETS_PER_ADDRESS = 10
RESETS_PER_EMAIL = 3


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, recording the e-mail in the outbox instead of sending it here."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        text = loader.render_to_string(email_template_name, context)
        html = loader.render_to_string(html_email_template_name, context) if html_email_template_name else ""
        # Each request is its own message (a user may ask twice); the key still names the user.
        delivery_create(
            workspace=None,
            dedupe_key=f"password-reset:{user.pk}:{uuid.uuid4().hex}",
            kind=PASSWORD_RESET_KIND,
            channel=Channel.EMAIL,
            recipient=to_email,
            recipient_ref=f"user:{user.pk}",
            message=Message(subject=subject, text=text, html=html),
        )


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "portal/auth/password_reset.html"
    email_template_name = "portal/auth/password_reset_email.txt"
    subject_template_name = "portal/auth/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-done")

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        keys = {
            f"password-reset:ip:{client_address(self.request)}": RESETS_PER_ADDRESS,
            f"password-reset:email:{hashlib.sha256(email.encode()).hexdigest()[:32]}": RESETS_PER_EMAIL,
        }
        if not rate_limit_hit(keys, window=60 * 60):
            return _too_many(self.request)
        self.extra_email_context = {"base_url": settings.PUBLIC_BASE_URL}
        return super().form_valid(form)


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "portal/auth/password_reset_throttled.html", status=429)
    response["Retry-After"] = "3600"
    return response


urlpatterns = [
    path(
        "accounts/login/",
        throttle_login(
            auth_views.LoginView.as_view(
                template_name="portal/auth/login.html", redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path(
        "accounts/logout/",
        auth_views.LogoutView.as_view(next_page=reverse_lazy("portal:login")),
        name="logout",
    ),
    path(
        "accounts/password-reset/",
        PasswordResetView.as_view(),
        name="password-reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/auth/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="portal/auth/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/auth/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
]
