"""The planning pages ("Plan"): products, goals and key results, initiatives, teams and their
capacity periods; and the edit page of a scorecard criterion (under the scoring settings)."""

from django.urls import path

from portal.views import goals, planning, products, teams

P = "plan/products/<int:product_id>/"
G = "plan/goals/<int:goal_id>/"
K = "plan/key-results/<int:key_result_id>/"
INI = "plan/initiatives/<int:initiative_id>/"
T = "plan/teams/<int:team_id>/"
C = "plan/capacities/<int:capacity_id>/"

urlpatterns = [
    path("plan/products/", products.product_list, name="plan-products"),
    path("plan/products/new/", products.product_new, name="plan-product-new"),
    path(P, products.product_detail, name="plan-product"),
    path(P + "delete/", products.product_delete, name="plan-product-delete"),
    path("plan/goals/", goals.goal_list, name="plan-goals"),
    path("plan/goals/new/", goals.goal_new, name="plan-goal-new"),
    path(G, goals.goal_detail, name="plan-goal"),
    path(G + "delete/", goals.goal_delete, name="plan-goal-delete"),
    path(G + "key-results/", goals.key_result_create, name="plan-key-result-create"),
    path(K, goals.key_result_detail, name="plan-key-result"),
    path(K + "current/", goals.key_result_current, name="plan-key-result-current"),
    path(K + "delete/", goals.key_result_delete, name="plan-key-result-delete"),
    path("plan/initiatives/", planning.initiative_list, name="plan-initiatives"),
    path("plan/initiatives/new/", planning.initiative_new, name="plan-initiative-new"),
    path(INI, planning.initiative_detail, name="plan-initiative"),
    path(INI + "delete/", planning.initiative_delete, name="plan-initiative-delete"),
    path("plan/teams/", teams.team_list, name="plan-teams"),
    path("plan/teams/new/", teams.team_create, name="plan-team-new"),
    path(T, teams.team_detail, name="plan-team"),
    path(T + "delete/", teams.team_delete, name="plan-team-delete"),
    path(T + "capacities/", teams.capacity_create, name="plan-capacity-create"),
    path(C, teams.capacity_detail, name="plan-capacity"),
    path(C + "delete/", teams.capacity_delete, name="plan-capacity-delete"),
    path(
        "settings/scoring/criteria/<int:criterion_id>/edit/",
        planning.criterion_edit,
        name="scoring-criterion-edit",
    ),
]
