"""The ledger is append-only: PostgreSQL refuses a DELETE of a points transaction and any
UPDATE other than its ``remaining`` going down (consumed by redemptions, reversals, expiry).
TRUNCATE (the test suite's flush) is not a row operation and is not affected."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_tx_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'loyalty_pointstransaction is append-only: rows are never deleted';
    END IF;
    IF (to_jsonb(NEW) - 'remaining') <> (to_jsonb(OLD) - 'remaining')
       OR NEW.remaining IS DISTINCT FROM OLD.remaining AND (OLD.remaining IS NULL OR NEW.remaining > OLD.remaining) THEN
        RAISE EXCEPTION 'loyalty_pointstransaction is append-only: only remaining may go down';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER loyalty_tx_append_only BEFORE UPDATE OR DELETE ON loyalty_pointstransaction
    FOR EACH ROW EXECUTE FUNCTION loyalty_tx_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS loyalty_tx_append_only ON loyalty_pointstransaction;
DROP FUNCTION IF EXISTS loyalty_tx_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
