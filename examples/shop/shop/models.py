"""Request and response bodies (pydantic 1.x)."""
from datetime import datetime
from typing import List

from pydantic import BaseModel, Field


class LoginRequest(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=128)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user_id: int


class User(BaseModel):
    id: int
    username: str


class Product(BaseModel):
    id: int
    name: str
    price_cents: int
    stock: int


class OrderLine(BaseModel):
    product_id: int = Field(..., gt=0)
    quantity: int = Field(..., gt=0, le=100)


class OrderCreate(BaseModel):
    items: List[OrderLine] = Field(..., min_items=1, max_items=20)


class OrderItem(BaseModel):
    product_id: int
    quantity: int
    price_cents: int


class Order(BaseModel):
    id: int
    user_id: int
    total_cents: int
    created_at: datetime
    items: List[OrderItem]
