from commerce.api.serializers import ProductInput
from commerce.importing import ImportCommand, product_csv_records
from commerce.services.catalogue import products_upsert


class Command(ImportCommand):
    help = (
        "Import products (upsert by sku) from CSV (columns: sku, name, price, stock_quantity, active, "
        "category or category_id, brand or brand_id) or JSON Lines (the bulk API's product objects). Safe to re-run: "
        "rows upsert by sku, so unchanged rows stay unchanged."
    )
    item_input = ProductInput
    service = products_upsert
    csv_records = product_csv_records
