"""The request pipeline in front of every ``/api/v1`` handler, built from Litestar's own parts.

Before it, app-level, :mod:`api.http.proxies` resolves the client address (the TCP peer, or the
right-most untrusted hop of a configured proxy's ``X-Forwarded-For``). A request goes, in order
(outermost first; the first refusal answers):

1. :mod:`.authentication`: Litestar authentication middleware. A repeated security header (400), the
   bearer token, the API key of the token's partner, the form of the signed headers and the clock
   skew, from the headers alone (401, charged to the client address's anonymous rate limit); the
   partner's IP allowlist (403). ``request.user``: the access token.
2. :mod:`.body`: the body, read only now, up to its limit (413), hashed as it streams, a large one
   only while a slot is free (503); uploads go to their digester and are not kept. Then the
   signature over it (401). ``request.auth``: the authenticated request.
3. :mod:`.limits`: replay protection, the partner's rate limit and, for a POST with an
   ``Idempotency-Key`` the handler will see, the claim of the key, in one step (one Redis round trip;
   401 for a replayed request id, 429); every response from here on carries the rate-limit headers.
4. :mod:`.idempotency`: the middleware that will store the response of a request holding a key.
5. :mod:`.guards`: the handler's ``opt["scope"]`` (403), a Litestar guard.
6. :mod:`.admission`: the router's ``before_request`` hook: check a JSON body (:mod:`.content`: 415,
   400 for depth, duplicate names, an empty body), take over the claim of the ``Idempotency-Key``
   from step 3 or claim it now (400, 409, 422, or the stored response replayed), record the partner
   for the access log, report a malformed upload.

The handler then gets its dependencies by name (:mod:`api.http.routes.common`: ``runtime``,
``partner_id``, ``upload``). :mod:`.assembly` turns this into the router's middleware, guards and hook;
:mod:`.services` holds what they work with, opened with the runtime.
"""

from api.http.pipeline.assembly import PartnerPipeline, partner_pipeline
from api.http.pipeline.services import Security, build_security

__all__ = ["PartnerPipeline", "Security", "build_security", "partner_pipeline"]
