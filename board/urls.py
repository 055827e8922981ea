"""The public board's URLs (namespace ``board``), under ``/p/<workspace_slug>/``."""

from django.urls import include, path

from board.views import changelog, email, public

app_name = "board"

board_patterns = [
    path("", public.board_home, name="home"),
    path("features/<int:feature_id>/", public.feature_detail, name="feature"),
    path("features/<int:feature_id>/vote/", public.feature_vote, name="vote"),
    path("features/<int:feature_id>/comments/", public.feature_comment, name="comment"),
    path("submit/", public.submit_idea, name="submit"),
    path("submit/similar/", public.similar_ideas, name="similar"),
    path("mine/", public.mine, name="mine"),
    path("roadmap/", public.public_roadmap, name="roadmap"),
    path("sign-in/", public.sign_in, name="sign-in"),
    path("sign-in/sent/", public.sign_in_sent, name="sign-in-sent"),
    path("verify/<str:token>/", public.verify, name="verify"),
    path("sign-out/", public.sign_out, name="sign-out"),
    # Pages e-mail links open (board/views/email.py): no login, whether or not the board is on.
    path("unsubscribe/<str:token>/", email.board_unsubscribe, name="unsubscribe"),
    path("email/preferences/<str:token>/", email.stakeholder_preferences, name="stakeholder-preferences"),
    path("email/unsubscribe/<str:token>/", email.stakeholder_unsubscribe, name="stakeholder-unsubscribe"),
    path("email/contact-unsubscribe/<str:token>/", email.contact_unsubscribe, name="contact-unsubscribe"),
    # The changelog: its own opt-in, readable without signing in (board/views/changelog.py).
    path("changelog/", changelog.changelog_page, name="changelog"),
    path("changelog/releases/<uuid:public_id>/", changelog.changelog_release, name="changelog-release"),
    path("changelog/rss/", changelog.ChangelogRssFeed(), name="changelog-rss"),
    path("changelog/atom/", changelog.ChangelogAtomFeed(), name="changelog-atom"),
    path("changelog/subscribe/", email.changelog_subscribe, name="changelog-subscribe"),
    path("changelog/confirm/<str:token>/", email.changelog_confirm, name="changelog-confirm"),
    path("changelog/<int:product_id>/rss/", changelog.ChangelogRssFeed(), name="changelog-product-rss"),
    path("changelog/<int:product_id>/atom/", changelog.ChangelogAtomFeed(), name="changelog-product-atom"),
]

urlpatterns = [path("<slug:workspace_slug>/", include(board_patterns))]
