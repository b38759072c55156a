"""Fake Zoho CRM: accounts_patterns mirror https://accounts.zoho.<dc>, api_patterns the api_domain."""

accounts_patterns: list = []
api_patterns: list = []
