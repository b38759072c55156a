"""People of a browser test: a member with a real password, logged in through the real form."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.factories import MembershipFactory, UserFactory

PASSWORD = "correct horse battery staple"


def member(workspace: Any, email: str, role: str) -> Any:
    user: Any = UserFactory(email=email)
    user.set_password(PASSWORD)
    user.save()
    return MembershipFactory(workspace=workspace, role=role, user=user)


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
