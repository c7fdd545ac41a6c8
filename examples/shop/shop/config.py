"""Settings read from the environment once, at import time."""
import os

# libpq-style DSN, e.g. postgresql://postgres@127.0.0.1:5432/postgres
DATABASE_URL = os.environ.get("SHOP_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# HS256 signing key. The default is only fit for a demo on loopback.
JWT_SECRET = os.environ.get("SHOP_JWT_SECRET", "shop-demo-secret-change-me")
JWT_ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = int(os.environ.get("SHOP_TOKEN_TTL_SECONDS", "3600"))
POOL_MIN = int(os.environ.get("SHOP_POOL_MIN", "1"))
POOL_MAX = int(os.environ.get("SHOP_POOL_MAX", "5"))
