"""OpenID Connect sign-in against a real provider started on loopback (oidc-provider-mock):
the authorization code flow end to end, the ID token verified with the provider's keys, and
the roles claim mapped to a role and SLAs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from stls_portal.models import AuditEvent, User
from stls_portal.oidc import discover, oidc_settings, roles_from_claims

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    from oidc_provider_mock import User as ProviderUser
    from oidc_provider_mock import run_server_in_thread

    people = [
        ProviderUser(
            sub="kate",
            claims={
                "email": "kate@school.example",
                "preferred_username": "kate",
                "roles": ["school_approver:SWA"],
            },
        ),
        ProviderUser(sub="stranger", claims={"email": "stranger@example.org", "roles": ["something_else"]}),
        ProviderUser(sub="fiona", claims={"email": "fiona@kent.example", "roles": ["county_finance"]}),
    ]
    with run_server_in_thread(user_claims=people) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def oidc(settings: Any, provider: str) -> str:
    for name, value in oidc_settings(provider, discover(provider)).items():
        setattr(settings, name, value)
    settings.OIDC_RP_CLIENT_ID = "stls-returns"
    settings.OIDC_RP_CLIENT_SECRET = "not-a-real-secret"
    settings.OIDC_ENABLED = True
    settings.OIDC_VERIFY_KID = False  # the provider's one signing key has no "kid" (its JWKS: one key)
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "stls_portal.oidc_backend.RoleMappingBackend",
    ]
    return provider


def sign_in_at_provider(client: Any, sub: str) -> Any:
    """Follow the flow as a browser would: to the provider, choose the person, back."""
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"] and "nonce" in query
    chosen = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert chosen.status_code == 302
    back = urlsplit(chosen.headers["Location"])
    assert back.path == "/oidc/callback/"
    return client.get(f"{back.path}?{back.query}")


def test_a_school_approver_signs_in_with_the_provider(client, oidc, portal_home):
    landed = sign_in_at_provider(client, "kate")
    assert landed.status_code == 302 and landed["Location"] == "/"
    user = User.objects.get(username="kate")
    assert (user.role, user.sla_codes, user.email) == ("school_approver", ["SWA"], "kate@school.example")
    assert not user.has_usable_password()
    assert client.get("/")["Location"] == "/sla/SWA/"
    assert client.get("/sla/SWA/").status_code == 200
    assert client.get("/sla/THA/").status_code == 404
    assert AuditEvent.objects.filter(action="sign_in", actor="kate").exists()


def test_a_person_without_an_stls_role_is_refused(client, oidc, portal_home):
    refused = sign_in_at_provider(client, "stranger")
    assert refused.status_code == 302 and refused["Location"].startswith("/sign-in/")
    assert not User.objects.filter(email="stranger@example.org").exists()
    assert client.get("/sla/SWA/").status_code == 302


def test_county_finance_sees_every_sla(client, oidc, portal_home):
    sign_in_at_provider(client, "fiona")
    user = User.objects.get(email="fiona@kent.example")
    assert user.role == "county_finance"
    assert client.get("/sla/THA/").status_code == 200


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["school_submitter:SWA+tha"], ("school_submitter", ["SWA", "THA"])),
        (["school_submitter:SWA", "county_finance"], ("county_finance", [])),
        ("auditor", ("auditor", [])),
        (["school_submitter"], None),
        (["school_submitter:NOPE"], None),
        ([], None),
    ],
)
def test_roles_claim_mapping(values, expected):
    assert roles_from_claims(values) == expected
