"""Fake Sellsy: login_patterns mirror https://login.sellsy.com, api_patterns https://api.sellsy.com."""

from django.urls import URLPattern, path

from . import views

login_patterns: list[URLPattern] = [
    path("oauth2/authorization", views.authorize, name="sandbox-sellsy-authorize"),
    path("oauth2/access-tokens", views.token, name="sandbox-sellsy-token"),
]
api_patterns: list[URLPattern] = [
    path("v2/me", views.me),
    path("v2/staffs", views.staffs),
    path("v2/companies", views.companies),
    path("v2/companies/search", views.companies_search),
    path("v2/companies/<str:company_id>", views.company),
    path("v2/companies/<str:company_id>/custom-fields", views.company_custom_fields),
    path("v2/companies/<str:company_id>/contacts", views.company_contacts),
    path("v2/opportunities/search", views.opportunities_search),
    path("v2/opportunities/pipelines", views.pipelines),
    path("v2/comments/search", views.comments_search),
    path("v2/phone-calls/search", views.phone_calls_search),
    path("v2/calendar-events/search", views.calendar_events_search),
    path("v2/crm-activities/search", views.crm_activities_search),
    path("v2/custom-fields", views.custom_fields),
    path("v2/custom-fields/search", views.custom_fields_search),
]
