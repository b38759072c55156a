from django.urls import include, path

from .hubspot import urls as hubspot_urls
from .pipedrive import urls as pipedrive_urls
from .salesforce import urls as salesforce_urls
from .sellsy import urls as sellsy_urls
from .zoho import urls as zoho_urls

urlpatterns = [
    path("hubspot/", include(hubspot_urls.api_patterns)),
    path("hubspot-app/", include(hubspot_urls.app_patterns)),
    path("salesforce-login/", include(salesforce_urls.login_patterns)),
    path("salesforce/", include(salesforce_urls.api_patterns)),
    path("pipedrive-oauth/", include(pipedrive_urls.oauth_patterns)),
    path("pipedrive/", include(pipedrive_urls.api_patterns)),
    path("zoho-accounts/", include(zoho_urls.accounts_patterns)),
    path("zoho/", include(zoho_urls.api_patterns)),
    path("sellsy-login/", include(sellsy_urls.login_patterns)),
    path("sellsy/", include(sellsy_urls.api_patterns)),
]
