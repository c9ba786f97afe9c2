"""Operations calls on partners (scope ``operations``): the API key rotation schedule."""

from __future__ import annotations

from urllib.parse import quote

from .core import ClientCore
from .schemas import partners as schemas


class PartnerOperationsClientMixin(ClientCore):
    """``/api/v1/operations/partners/{partner}/api-key-policy``."""

    def get_key_policy(self, partner_id: str) -> schemas.KeyPolicyView:
        """The partner's maximum key age and each key's deadline and warning start."""
        path = f"/api/v1/operations/partners/{quote(partner_id, safe='')}/api-key-policy"
        return self._json("GET", path, schemas.KeyPolicyView)

    def set_key_max_age(self, partner_id: str, max_age_days: int | None) -> schemas.KeyPolicyView:
        """Set (``None``: remove) the partner's maximum API key age in days."""
        path = f"/api/v1/operations/partners/{quote(partner_id, safe='')}/api-key-policy"
        body = schemas.KeyPolicyUpdate(max_age_days=max_age_days)
        return self._json("PUT", path, schemas.KeyPolicyView, body=body)
