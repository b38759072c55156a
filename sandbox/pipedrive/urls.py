"""Fake Pipedrive: oauth_patterns mirror https://oauth.pipedrive.com, api_patterns a company's api_domain
(https://<company>.pipedrive.com), with the v1 and v2 paths the connector calls."""

from django.urls import URLPattern, path

from . import views

oauth_patterns: list[URLPattern] = [
    path("oauth/authorize", views.authorize, name="sandbox-pipedrive-authorize"),
    path("oauth/token", views.token, name="sandbox-pipedrive-token"),
]
api_patterns: list[URLPattern] = [
    path("api/v1/users/me", views.users_me),
    path("api/v1/users", views.users),
    path("api/v1/organizations/<str:org_id>", views.organization_v1),
    path("api/v1/organizationRelationships", views.relationships),
    path("api/v1/pipelines", views.pipelines),
    path("api/v1/notes", views.notes),
    path("api/v1/<str:list_name>", views.fields),
    path("api/v2/organizations", views.organizations),
    path("api/v2/organizations/search", views.organizations_search),
    path("api/v2/organizations/<str:org_id>", views.organization),
    path("api/v2/persons", views.persons),
    path("api/v2/persons/<str:person_id>", views.person),
    path("api/v2/deals", views.deals),
    path("api/v2/deals/<str:deal_id>", views.deal),
    path("api/v2/activities", views.activities),
]
