"""Fake HubSpot: api_patterns mirror api.hubapi.com, app_patterns mirror app.hubspot.com (authorize page)."""

from django.urls import URLPattern, path

from . import views

api_patterns: list[URLPattern] = [
    path("oauth/v1/token", views.token),
    path("oauth/v1/access-tokens/<str:value>", views.token_info),
    path("crm/v3/objects/<str:object_type>", views.objects),
    path("crm/v3/objects/<str:object_type>/search", views.object_search),
    path("crm/v3/objects/<str:object_type>/batch/read", views.batch_read),
    path("crm/v3/objects/<str:object_type>/<str:object_id>", views.object_detail),
    path("crm/v4/associations/<str:from_type>/<str:to_type>/batch/read", views.associations_batch_read),
    path(
        "crm/v4/objects/<str:from_type>/<str:object_id>/associations/<str:to_type>", views.associations_list
    ),
    path("crm/v3/properties/<str:object_type>", views.properties),
    path("crm/v3/properties/<str:object_type>/<str:property_name>", views.property_detail),
    path("crm/v3/pipelines/deals", views.deal_pipelines),
    path("crm/v3/owners/", views.owners),
    path("crm/v3/owners/<str:owner_id>", views.owner_detail),
]
app_patterns: list[URLPattern] = [
    path("oauth/authorize", views.authorize),
    path("oauth/<str:account_id>/authorize", views.authorize),
]
