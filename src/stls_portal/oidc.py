"""Sign-in through the council's identity provider over OpenID Connect (mozilla-django-oidc).

Configuration (environment):

| variable | meaning |
|---|---|
| STLS_OIDC_ISSUER | the provider's issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0; its discovery document gives the endpoints |
| STLS_OIDC_CLIENT_ID, STLS_OIDC_CLIENT_SECRET | this service's registration at the provider |
| STLS_OIDC_ROLES_CLAIM | the claim carrying STLS roles (default `roles`, as Entra ID's app roles) |

A role value is `<role>` or `<role>:<SLA>[+<SLA>...]`, e.g. `school_submitter:SWA`,
`school_approver:SWA+THA`, `county_finance`, `auditor`, `administrator`. Claims are read from
the verified ID token and from the userinfo endpoint together (Entra ID puts app roles in the
ID token only). A person with no STLS role in the claim is refused; their role and SLAs are
set again from the claim at every sign-in, so removing a role at the provider removes it here.
"""

from __future__ import annotations

import os
from typing import Any

# The strongest role a person is given wins (stls_portal.models.Role's values); the settings
# import this module, so it imports the models only inside functions.
ROLE_ORDER = ("administrator", "county_finance", "auditor", "school_approver", "school_submitter")
SCHOOL_ROLES = ("school_approver", "school_submitter")


def discover(issuer: str, timeout: float = 10) -> dict[str, Any]:
    import requests

    response = requests.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=timeout)
    response.raise_for_status()
    return dict(response.json())


def oidc_settings(issuer: str | None = None, discovery: dict[str, Any] | None = None) -> dict[str, Any]:
    """Django settings for mozilla-django-oidc from the issuer's discovery document."""
    issuer = issuer or os.environ["STLS_OIDC_ISSUER"]
    found = discovery if discovery is not None else discover(issuer)
    return {
        "OIDC_RP_CLIENT_ID": os.environ.get("STLS_OIDC_CLIENT_ID", ""),
        "OIDC_RP_CLIENT_SECRET": os.environ.get("STLS_OIDC_CLIENT_SECRET", ""),
        "OIDC_OP_AUTHORIZATION_ENDPOINT": found["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": found["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": found["userinfo_endpoint"],
        "OIDC_OP_JWKS_ENDPOINT": found["jwks_uri"],
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_USE_NONCE": True,
        "OIDC_CREATE_USER": True,
        "LOGIN_REDIRECT_URL_FAILURE": "/sign-in/",
        "STLS_OIDC_ROLES_CLAIM": os.environ.get("STLS_OIDC_ROLES_CLAIM", "roles"),
    }


def roles_from_claims(values: Any) -> tuple[str, list[str]] | None:
    """(role, SLA codes) from the claim's values: the strongest role given; SLAs of school roles."""
    from stls_warehouse import reference

    if isinstance(values, str):
        values = [values]
    found: dict[str, set[str]] = {}
    for value in values or []:
        role, _, slas = str(value).partition(":")
        if role not in ROLE_ORDER:
            continue
        found.setdefault(role, set()).update(s.strip().upper() for s in slas.split("+") if s.strip())
    for role in ROLE_ORDER:
        if role in found:
            codes = sorted(c for c in found[role] if c in reference.slas())
            if role in SCHOOL_ROLES and not codes:
                return None
            return role, codes
    return None
