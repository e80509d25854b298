"""Pydantic models named by the model-kind tests (``tests.unit.validation.fixtures_models:X``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Item(BaseModel):
    sku: str
    qty: Annotated[int, Field(gt=0)]


class Address(BaseModel):
    city: str
    zip: str


class Order(BaseModel):
    order_id: str
    name: str
    quantity: int
    items: list[Item] = []
    note: str | None = None
    address: Address | None = None
    meta: dict[str, int] = {}


class StrictOrder(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    order_id: str
    quantity: int


class Aliased(BaseModel):
    weird: int = Field(alias="a/b~c")


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pets(BaseModel):
    pets: list[Annotated[Cat | Dog, Field(discriminator="kind")]]
    either: int | list[int] = 0


class Touchy(BaseModel):
    """Validators that fail in every way a model's code can."""

    x: int

    @field_validator("x")
    @classmethod
    def _x(cls, v: int) -> int:
        if v == 7:
            raise ValueError("seven is not allowed")
        if v == 8:
            raise AssertionError("eight is not allowed")
        if v == 13:
            raise RuntimeError("unlucky")
        if v == 14:
            nothing: dict[int, int] = {}
            return nothing[v]  # KeyError
        return v


class Range(BaseModel):
    low: int
    high: int

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class Node(BaseModel):
    value: int
    children: list[Node] = []


class NotAModel:
    name: str = "plain class"


NOT_A_CLASS = 42
