"""Optional bearer-token authentication for the routes that change data (POST, DELETE).

Off unless API_TOKENS lists tokens. Tokens are compared in constant time, against every
configured token whatever matches first, so timing tells nothing about any of them.
"""

import hashlib
import hmac

from gateway.http.problems import HTTPProblem

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REALM = 'Bearer realm="nameko-travel"'


class BearerAuth:
    def __init__(self, tokens):
        self._tokens = [token.encode() for token in tokens]

    def client_id(self, req):
        """A stable, non-secret id of the caller's token (to scope its idempotency keys);
        401 when the request carries no valid token."""
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        given = token.strip().encode() if scheme.lower() == "bearer" else b""
        matched = False
        for expected in self._tokens:
            matched |= hmac.compare_digest(given, expected)
        if not matched:
            challenge = REALM + (', error="invalid_token"' if given else "")
            raise HTTPProblem(
                401,
                "A valid bearer token is required to change data; send one in Authorization (Bearer).",
                headers={"WWW-Authenticate": challenge},
            )
        return hashlib.sha256(given).hexdigest()[:16]
