from commerce.api.serializers import OrderInput
from commerce.importing import ImportCommand, order_csv_records
from commerce.services.orders import orders_ingest


class Command(ImportCommand):
    help = (
        "Import orders (idempotent on external_id) from JSON Lines (one API order object per line) or CSV "
        "(one row per order line, rows of an order consecutive: external_id, customer_external_id, customer_email, "
        "placed_at, status, currency, subtotal, shipping, discount_total, tax_total, total, shipping_country, "
        "shipping_state, shipping_city, payment_method, coupon_codes (';'-separated), sku, name, quantity, "
        "unit_price, line_total, category, brand). Safe to re-run: an order already stored is replayed by its "
        "external_id, never stored or awarded twice."
    )
    item_input = OrderInput
    service = orders_ingest
    csv_records = order_csv_records
