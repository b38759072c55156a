"""Fake Pipedrive: oauth_patterns mirror https://oauth.pipedrive.com, api_patterns a company's api_domain."""

oauth_patterns: list = []
api_patterns: list = []
