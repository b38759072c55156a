"""Fake Zoho CRM: accounts_patterns mirror https://accounts.zoho.<dc>, api_patterns the api_domain."""

from django.urls import URLPattern, path

from . import accounts, views

accounts_patterns: list[URLPattern] = [
    path("oauth/v2/auth", accounts.authorize, name="sandbox-zoho-authorize"),
    path("oauth/v2/token", accounts.token, name="sandbox-zoho-token"),
]

V8 = "crm/v8/"
api_patterns: list[URLPattern] = [
    path(f"{V8}org", views.org),
    path(f"{V8}users", views.users),
    path(f"{V8}users/<str:user_id>", views.users),
    path(f"{V8}coql", views.coql_query),
    path(f"{V8}settings/fields", views.fields),
    path(f"{V8}<str:module>/deleted", views.deleted),
    path(f"{V8}<str:module>", views.module_root),
    path(f"{V8}<str:module>/<str:record_id>", views.one_record),
    path(f"{V8}<str:module>/<str:record_id>/actions/<str:action>", views.tags),
    path(f"{V8}<str:module>/<str:record_id>/<str:related_list>", views.related),
]
