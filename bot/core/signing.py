"""Signed, expiring tokens for links the app serves to anyone who holds them (a ticket's QR image): unguessable,
tamper-proof, and useless after `max_age`. Built on itsdangerous (Flask's own dependency) with SECRET_KEY."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer


def signer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """A serializer whose tokens are valid for `purpose` only (another purpose's token is refused)."""
    return URLSafeTimedSerializer(secret_key, salt=f"bot.{purpose}")


def sign(secret_key: str, purpose: str, value: str) -> str:
    return signer(secret_key, purpose).dumps(value)


def unsign(secret_key: str, purpose: str, token: str, max_age: int) -> str | None:
    """The signed value, or None for a token that is forged, for another purpose, or older than `max_age` s."""
    try:
        return signer(secret_key, purpose).loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
