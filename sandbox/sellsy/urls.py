"""Fake Sellsy: login_patterns mirror https://login.sellsy.com, api_patterns https://api.sellsy.com."""

login_patterns: list = []
api_patterns: list = []
