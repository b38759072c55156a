"""Fake Salesforce: login_patterns mirror login.salesforce.com, api_patterns an org's instance_url."""

login_patterns: list = []
api_patterns: list = []
