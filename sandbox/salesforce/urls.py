"""Fake Salesforce: login_patterns mirror login.salesforce.com, api_patterns an org's instance_url."""

from django.urls import URLPattern, path

from . import api, oauth

login_patterns: list[URLPattern] = [
    path("services/oauth2/authorize", oauth.authorize, name="sandbox-salesforce-authorize"),
    path("services/oauth2/token", oauth.token, name="sandbox-salesforce-token"),
    path("services/oauth2/userinfo", api.userinfo),
]

DATA = "services/data/<str:version>/"
api_patterns: list[URLPattern] = [
    path("services/oauth2/userinfo", api.userinfo, name="sandbox-salesforce-userinfo"),
    path("services/data/", api.versions),
    path(f"{DATA}query", api.query),
    path(f"{DATA}query/", api.query),
    path(f"{DATA}query/<str:locator>", api.query_more),
    path(f"{DATA}queryAll", api.query_all),
    path(f"{DATA}queryAll/", api.query_all),
    path(f"{DATA}limits", api.limits),
    path(f"{DATA}sobjects/<str:sobject>/describe", api.describe),
    path(f"{DATA}sobjects/<str:sobject>/describe/", api.describe),
    path(f"{DATA}sobjects/<str:sobject>/listviews", api.listviews),
    path(f"{DATA}sobjects/<str:sobject>/listviews/<str:view_id>/describe", api.listview_describe),
    path(f"{DATA}sobjects/<str:sobject>/listviews/<str:view_id>/results", api.listview_results),
    path(f"{DATA}sobjects/<str:sobject>", api.sobject_root),
    path(f"{DATA}sobjects/<str:sobject>/", api.sobject_root),
    path(f"{DATA}sobjects/<str:sobject>/<str:record_id>", api.sobject_record),
]
