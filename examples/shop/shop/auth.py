"""JWT (HS256) issuing and the `get_current_user` dependency."""
import hmac
import time
from typing import Optional

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shop import config, db
from shop.models import User

# auto_error=False: a missing header is a 401 (FastAPI's default would be 403).
_bearer = HTTPBearer(auto_error=False)

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="invalid or missing bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


def create_token(user: User) -> str:
    now = int(time.time())
    claims = {"sub": str(user.id), "name": user.username, "iat": now,
              "exp": now + config.TOKEN_TTL_SECONDS}
    return jwt.encode(claims, config.JWT_SECRET, algorithm=config.JWT_ALGORITHM)


async def authenticate(username: str, password: str) -> Optional[User]:
    row = await db.pool().fetchrow(
        "SELECT id, username, password_salt, password_hash FROM users WHERE username = $1",
        username)
    if row is None:
        return None
    candidate = db.hash_password(password, bytes(row["password_salt"]))
    if not hmac.compare_digest(candidate, bytes(row["password_hash"])):
        return None
    return User(id=row["id"], username=row["username"])


async def get_current_user(
        creds: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> User:
    if creds is None or creds.scheme.lower() != "bearer":
        raise _UNAUTHORIZED
    try:
        claims = jwt.decode(creds.credentials, config.JWT_SECRET,
                            algorithms=[config.JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError):
        raise _UNAUTHORIZED
    row = await db.pool().fetchrow("SELECT id, username FROM users WHERE id = $1", user_id)
    if row is None:
        raise _UNAUTHORIZED
    return User(id=row["id"], username=row["username"])
