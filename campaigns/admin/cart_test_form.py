"""The "Test a cart" page's form: products picked by sku or name (quantity and price from the
catalogue when left empty), a customer by email, codes, shipping and location."""

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from unfold.widgets import INPUT_CLASSES

from accounts.models import User, normalize_email
from campaigns.evaluation import CartRequest
from campaigns.forms import MAX_LINES, MAX_QUANTITY, CampaignTestForm
from commerce.models import Product

CENT = Decimal("0.01")
INPUT = " ".join(INPUT_CLASSES)
LINE_ROWS = 5
NAMED_MOST = 500  # rows read to resolve a cart's typed names (a name shared that often is ambiguous anyway)


class CartTestForm(CampaignTestForm):
    """``CampaignTestForm``'s cart without its typed lines (the line rows carry them), and a
    customer who must be one: an email of a customer we know."""

    lines = None  # the rows of CartLineFormSet instead
    customer = forms.EmailField(
        required=False, max_length=254, help_text="The customer's email; empty = a guest (not signed in)."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        styled(self)
        self.fields["codes"].widget.attrs["data-testid"] = "cart-codes"

    def clean_customer(self) -> str:
        email = (self.cleaned_data.get("customer") or "").strip()
        if not email:
            return ""
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise ValidationError(f"No customer has the email {email}.")
        if not user.is_plain_customer:
            raise ValidationError(f"{email} is a staff account, not a customer: staff get no discounts.")
        self.customer_user = user
        return email

    def cart_request_for(self, lines: list[dict[str, Any]]) -> CartRequest:
        self.cleaned_data["lines"] = lines
        return self.cart_request()


class CartLineForm(forms.Form):
    product = forms.CharField(
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "data-testid": "cart-product-search",
                "list": "cart-products",
                "autocomplete": "off",
                "placeholder": "Type a product's name or sku",
            }  # fmt: skip
        ),
    )
    quantity = forms.IntegerField(required=False, min_value=1, max_value=MAX_QUANTITY)
    unit_price = forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=12, decimal_places=2, help_text="Empty: the catalogue's."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        styled(self)
        self.fields["unit_price"].widget.attrs["data-price"] = "1"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("product") and (data.get("quantity") or data.get("unit_price") is not None):
            self.add_error("product", "Pick a product for this line.")
        return data


class BaseCartLineFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        rows = [form.cleaned_data for form in self.forms if form.cleaned_data.get("product")]
        if not rows:
            raise ValidationError("Add at least one product to the cart.")
        if len(rows) > MAX_LINES:
            raise ValidationError(f"At most {MAX_LINES} lines.")
        products = products_named([row["product"] for row in rows])
        self.lines = []
        for form in self.forms:
            row = form.cleaned_data
            if not row.get("product"):
                continue
            product = products.get(row["product"].strip().casefold())
            if product is None:
                form.add_error("product", f"No product has the sku or name “{row['product']}”.")
                continue
            price = row["unit_price"] if row.get("unit_price") is not None else product.price
            self.lines.append(
                {"sku": product.sku, "quantity": row.get("quantity") or 1, "unit_price": price.quantize(CENT)}
            )
        if any(self.errors):
            raise ValidationError("Some products are not in the catalogue.")


CartLineFormSet = forms.formset_factory(
    CartLineForm, formset=BaseCartLineFormSet, extra=LINE_ROWS, max_num=MAX_LINES, validate_max=True
)


def products_named(keys: list[str]) -> dict[str, Product]:
    """casefolded sku or name -> product, for what was typed (a sku wins over a name; a name
    two products share is ambiguous and left out). One query."""
    typed = {key.strip() for key in keys if key.strip()}
    match = Q(sku__in={variant for key in typed for variant in (key, key.upper())})
    for key in typed:
        match |= Q(name__iexact=key)
    by_sku: dict[str, Product] = {}
    by_name: dict[str, list[Product]] = {}
    for product in Product.objects.filter(match).order_by("id")[:NAMED_MOST]:
        by_sku[product.sku.casefold()] = product
        by_name.setdefault(product.name.casefold(), []).append(product)
    named = {name: products[0] for name, products in by_name.items() if len(products) == 1}
    return {**named, **by_sku}


def styled(form: forms.Form) -> None:
    """The console's input look on plain widgets (unfold styles only its own)."""
    for bound in form.fields.values():
        widget = bound.widget
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {INPUT}".strip()
