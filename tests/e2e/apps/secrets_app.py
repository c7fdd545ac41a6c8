"""Test i: reads credentials from header, cookie and query, never echoes them."""
from typing import Optional

from fastapi import Cookie, FastAPI, Header

from common import add_common_routes

app = FastAPI(title="secrets_app")
add_common_routes(app)


@app.get("/account")
async def account(token: Optional[str] = None, authorization: Optional[str] = Header(None),
                  session: Optional[str] = Cookie(None)) -> dict:
    return {"has_token": token is not None, "has_auth": authorization is not None,
            "has_session": session is not None}
