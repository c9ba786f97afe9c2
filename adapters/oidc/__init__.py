"""OpenID Connect relying party: discovery, authorization code + PKCE, id_token validation (authlib, joserfc)."""
