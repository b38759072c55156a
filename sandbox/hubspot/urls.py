"""Fake HubSpot: api_patterns mirror api.hubapi.com, app_patterns mirror app.hubspot.com (authorize page)."""

api_patterns: list = []
app_patterns: list = []
