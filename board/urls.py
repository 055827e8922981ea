"""The public board's URLs (namespace ``board``), under ``/p/<workspace_slug>/``."""

from django.urls import include, path

from board.views import public

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
    path("unsubscribe/<str:token>/", public.unsubscribe, name="unsubscribe"),
]

urlpatterns = [path("<slug:workspace_slug>/", include(board_patterns))]
