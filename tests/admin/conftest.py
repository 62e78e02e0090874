"""Staff accounts and sign-in for back-office tests."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.domain.access import accounts
from portal.domain.enums import Role
from portal.domain.models import User
from tests.conftest import csrf_token

PASSWORD = "long enough staff pass 1"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt is slow on purpose; these tests sign in hundreds of times. The hash format is
    tested in tests/test_cli_users.py."""
    monkeypatch.setattr(
        accounts, "hash_password",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )


def make_user(session: Session, username: str, role: Role, department: str | None = None,
              password: str = PASSWORD, township: str | None = None) -> User:
    user = accounts.create_user(session, username, role, password, department_code=department,
                                township_code=township)
    session.commit()  # the savepoint: requests in the same test see it
    return user


def login(client: FlaskClient, username: str, password: str = PASSWORD, next_url: str = ""):
    token = csrf_token(client, "/admin/login")
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "next": next_url, "csrf_token": token})


def sign_in(client: FlaskClient, user: User) -> None:
    """Sign in as ``user``, signing out whoever was signed in."""
    if "csrf_token" in client.get("/admin/").get_data(as_text=True):
        client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert login(client, user.username).status_code == 302


def text(client: FlaskClient, url: str) -> str:
    """A page the signed-in user may open, as text."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


@pytest.fixture
def staff(db_session: Session) -> dict[str, User]:
    """One account per role; officers of the fire station and of the police station."""
    return {
        "admin": make_user(db_session, "admin1", Role.ADMIN),
        "moderator": make_user(db_session, "mod1", Role.MODERATOR),
        "supervisor": make_user(db_session, "sup1", Role.SUPERVISOR),
        "officer": make_user(db_session, "fire1", Role.OFFICER, "FIRE"),
        "officer_b": make_user(db_session, "police1", Role.OFFICER, "POLICE"),
        "grid": make_user(db_session, "grid1", Role.GRID_INSPECTOR, township="yanggao"),
    }


@pytest.fixture
def as_role(client: FlaskClient, staff: dict[str, User]):
    """``as_role("moderator")`` signs the client in as that role's account."""
    def sign_in(role: str) -> User:
        response = login(client, staff[role].username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return staff[role]
    return sign_in


@pytest.fixture
def township_staff(db_session: Session) -> dict[str, User]:
    """Two townships' offices and the county's (issue 18), on the demo county:

    ``<role>_a`` works in 阳高乡 (yanggao), ``<role>_b`` in 北社乡 (beishe), ``<role>_county``
    for the county (no township); ``grid_a`` and ``grid_b`` are the townships' grid
    inspectors. Officers: ``officer_a`` of 阳高乡's fire team (FIRE, serves
    yanggao only), ``officer_b`` of 北社派出所 (BS-POLICE, beishe only), ``officer_county``
    of the county fire brigade (DADUI, serves every township).
    """
    users = {}
    for suffix, township in (("a", "yanggao"), ("b", "beishe"), ("county", None)):
        for role in (Role.ADMIN, Role.MODERATOR, Role.SUPERVISOR):
            users[f"{role.value}_{suffix}"] = make_user(
                db_session, f"{role.value[:3]}-{suffix}", role, township=township)
    users["officer_a"] = make_user(db_session, "off-a", Role.OFFICER, "FIRE")
    users["officer_b"] = make_user(db_session, "off-b", Role.OFFICER, "BS-POLICE")
    users["officer_county"] = make_user(db_session, "off-county", Role.OFFICER, "DADUI")
    # Grid inspectors are always a township's (issue 22).
    users["grid_a"] = make_user(db_session, "grid-ta", Role.GRID_INSPECTOR, township="yanggao")
    users["grid_b"] = make_user(db_session, "grid-tb", Role.GRID_INSPECTOR, township="beishe")
    return users
