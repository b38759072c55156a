from django.urls import include, path

from .hubspot import urls as hubspot_urls
from .salesforce import urls as salesforce_urls

urlpatterns = [
    path("hubspot/", include(hubspot_urls.api_patterns)),
    path("hubspot-app/", include(hubspot_urls.app_patterns)),
    path("salesforce-login/", include(salesforce_urls.login_patterns)),
    path("salesforce/", include(salesforce_urls.api_patterns)),
]
