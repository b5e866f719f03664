"""The voucher's life after consent: the wallet's requests, the provider's reports, as the cycle
takes them (one pydantic model per update and signal)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, field_validator

from models.text import MAX_QUANTITY, PrintableStr, Quantity, json_integer

# A utility personal-account number: letters, digits and dashes (it goes into the provider's URL).
ACCOUNT_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$"


class Account(BaseModel):
    """A gas personal account as the provider's billing system knows it."""

    account_number: str
    holder: str
    address: str
    region: str


class AccountEntry(BaseModel):
    """The citizen typed a personal-account number into the wallet."""

    account_number: str = Field(pattern=ACCOUNT_NUMBER)


class AccountShown(BaseModel):
    voucher_id: str
    account_number: str
    holder: str
    address: str
    region: str


class Confirmation(BaseModel):
    """The citizen confirmed the account shown."""


class Activated(BaseModel):
    state: str = "ACTIVATED"
    balance_kzt: int | None = None


class FoodActivation(BaseModel):
    """The citizen activated a food voucher in the wallet."""


# A purchase's sums stay within a 64-bit integer (the store's money columns, SQL's SUM over a
# month): a line is at most 10⁶ units x 10⁹ ₸ = 10¹⁵ ₸, a purchase at most 500 lines.
MAX_QTY = MAX_QUANTITY


class PurchaseLine(BaseModel):
    code: PrintableStr = Field(min_length=1, max_length=80)
    qty: Quantity
    unit_price_kzt: int = Field(ge=0, le=10**9)
    discount_kzt: int = Field(ge=0, le=10**9)  # the whole line's discount, drawn from the balance

    # A JSON ``false`` or ``"5"`` is not a number of tenge: the document says integer.
    _integers = field_validator("unit_price_kzt", "discount_kzt", mode="before")(json_integer)


class Purchase(BaseModel):
    """A shop's payment drawn from a food voucher."""

    purchase_id: PrintableStr = Field(min_length=1, max_length=120)
    shop_id: PrintableStr = Field(min_length=1, max_length=120)
    items: list[PurchaseLine] = Field(min_length=1, max_length=500)

    @property
    def discount_kzt(self) -> int:
        return sum(line.discount_kzt for line in self.items)

    @property
    def goods_kzt(self) -> int:
        return int(sum(line.qty * line.unit_price_kzt for line in self.items))


class Redeemed(BaseModel):
    balance_kzt: int


class HandedOver(BaseModel):
    """The month's hand-over reached the provider with this voucher in it."""


class Consumption(BaseModel):
    """The provider's accrual of the month's gas for the voucher's account."""

    account_number: str
    volume_m3: Decimal = Field(ge=0)
    discount_kzt: int | None = None  # the provider's own figure, checked against the formula
