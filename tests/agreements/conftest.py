import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Users made by the factories hash a password; PBKDF2 made each test's setup take ~0.4 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
