"""The OpenID Connect authentication backend: people from the provider's claims, their role
and SLAs mapped from the roles claim at every sign-in (see stls_portal.oidc)."""

from __future__ import annotations

from typing import Any

from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from stls_portal.oidc import roles_from_claims


class RoleMappingBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Users from the provider's claims: username from `preferred_username` or e-mail."""

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        userinfo = super().get_userinfo(access_token, id_token, payload)
        return dict(payload) | dict(userinfo)

    def _claim(self) -> str:
        return str(self.get_settings("STLS_OIDC_ROLES_CLAIM", "roles"))

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return (
            bool(super().verify_claims(claims)) and roles_from_claims(claims.get(self._claim())) is not None
        )

    def _username(self, claims: dict[str, Any]) -> str:
        return str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:150]

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(username=self._username(claims))

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = self.UserModel(username=self._username(claims), email=claims.get("email", ""))
        user.set_unusable_password()
        return self.update_user(user, claims)

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        mapped = roles_from_claims(claims.get(self._claim()))
        assert mapped is not None  # verify_claims refused anyone without a role
        user.role, user.sla_codes = mapped
        user.email = claims.get("email", user.email)
        user.first_name = str(claims.get("given_name", user.first_name))[:150]
        user.last_name = str(claims.get("family_name", user.last_name))[:150]
        user.is_staff = user.is_superuser = user.role == "administrator"
        user.save()
        return user
