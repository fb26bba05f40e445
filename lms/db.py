"""Set-based inserts for the hot ingestion paths and the demo seeder.

On PostgreSQL rows go in with ``COPY`` and primary keys come from the table's own sequence
(``nextval``), so later ORM inserts never collide with them; elsewhere (SQLite, the embedded
default) the ORM's ``bulk_create`` does the same job more slowly.
"""

import zlib
from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def ids_allocate(model: type[models.Model], count: int) -> Sequence[int]:
    """``count`` fresh primary keys for ``model`` (PostgreSQL: from its sequence)."""
    if count == 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite serialises writers, and AUTOINCREMENT moves past the ids written.
    first = (model.objects.aggregate(top=models.Max("pk"))["top"] or 0) + 1
    return range(first, first + count)


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, table: str | None = None
) -> None:
    """``COPY`` plain rows (values in ``columns`` order, by field name) into ``model``'s table
    (or ``table``, one with those columns)."""
    from psycopg.types.json import Jsonb

    fields = [model._meta.get_field(name) for name in columns]
    json_at = [n for n, field in enumerate(fields) if isinstance(field, models.JSONField)]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table or model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    # Django maps driver errors to its own (IntegrityError -> 409) only inside this wrapper;
    # its cursor does not wrap COPY.
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for n in json_at:
                    row[n] = Jsonb(row[n])
            copy.write_row(row)


def bulk_insert(objs: Sequence[models.Model]) -> None:
    """Insert unsaved instances of one model and give them their primary keys.

    Like ``bulk_create`` (auto_now fields are filled, related objects assigned before they had
    a key are picked up) but with ``COPY`` on PostgreSQL: several times faster for the
    thousands of rows a bulk ingest writes.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=1000)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    for obj, pk in zip(objs, ids_allocate(model, len(objs)), strict=True):
        obj._prepare_related_fields_for_save(operation_name="bulk_insert")
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
    rows = ([obj.pk, *(field.pre_save(obj, add=True) for field in fields)] for obj in objs)
    copy_rows(model, [model._meta.pk.name, *(field.name for field in fields)], list(rows))


def one_of(values: Sequence[Any], sql_type: str = "bigint") -> Any:
    """For ``filter(x__in=one_of(ids))`` on a hot path: PostgreSQL gets the list as ONE array
    parameter (``SELECT unnest(%s::bigint[])``), not a placeholder per value, which costs
    Django about 8 microseconds a value to compile; elsewhere the plain list."""
    if connection.vendor != "postgresql":
        return list(values)
    from django.db.models.expressions import RawSQL

    return RawSQL(f"SELECT unnest(%s::{sql_type}[])", [list(values)])  # sql_type is the caller's constant, never input


def sql_in(values: Sequence[Any], params: list[Any]) -> str:
    """The raw-SQL twin of :func:`one_of`: the condition after a column (``= ANY(%s)`` with one
    array parameter on PostgreSQL, ``IN (%s, ...)`` elsewhere), its parameters appended to ``params``."""
    values = list(values)
    if connection.vendor == "postgresql":
        params.append(values)
        return "= ANY(%s)"
    params.extend(values)
    return f"IN ({', '.join(['%s'] * len(values))})"


# psycopg adapts ints, decimals, dates, aware datetimes and strings itself; Django's per-value
# preparation (a few microseconds each) is kept for the fields that need it (JSON, ...).
PLAIN_FIELDS = (models.IntegerField, models.DecimalField, models.DateTimeField, models.DateField, models.CharField)


def bulk_set(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of saved instances of one model back, in one statement.

    PostgreSQL: ``UPDATE ... FROM unnest(<one array per column>)``, a few milliseconds for
    thousands of rows where ``bulk_update``'s ``CASE WHEN id = ...`` per field and row costs
    about a millisecond a row to build in Python. Elsewhere ``bulk_update``. Rows are updated
    in primary-key order, the order the callers lock them in.
    """
    if not objs:
        return
    objs = sorted(objs, key=lambda obj: obj.pk)
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, list(fields), batch_size=1000)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]

    def values(col: models.Field) -> list[Any]:
        if isinstance(col, PLAIN_FIELDS) or (col.is_relation and isinstance(col.target_field, models.AutoField)):
            return [getattr(obj, col.attname) for obj in objs]
        return [col.get_db_prep_value(getattr(obj, col.attname), connection) for obj in objs]

    arrays = [values(col) for col in columns]
    unnest = ", ".join(f"%s::{col.db_type(connection)}[]" for col in columns)
    names = ", ".join(quote(col.column) for col in columns)
    assignments = ", ".join(f"{quote(col.column)} = v.{quote(col.column)}" for col in columns[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM unnest({unnest}) AS v({names}) WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def copy_insert_new(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert plain rows (values in ``columns`` order, by field name) into ``model``'s table,
    skipping any a unique constraint already holds, without model instances.

    PostgreSQL: ``COPY`` into a session-local staging table, then one ``INSERT ... SELECT ... ON
    CONFLICT DO NOTHING``: the speed of COPY with the safety of ignore-conflicts (a plain COPY
    would fail the whole batch on one duplicate). Elsewhere ``bulk_create``.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        # By attname: a foreign key's column takes the id the row carries ("message" -> message_id).
        attnames = [model._meta.get_field(name).attname for name in columns]
        objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, ignore_conflicts=True, batch_size=1000)
        return
    from django.db import transaction

    meta, quote = model._meta, connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in columns)
    # One staging table per column list; the name is stable across processes (no hash()).
    staging = f"{meta.db_table}_staging_{zlib.crc32(','.join(columns).encode())}"
    with transaction.atomic(), connection.cursor() as cursor:
        # Types without constraints or defaults; emptied at commit, and after each use below.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {quote(staging)} ON COMMIT DELETE ROWS "
            f"AS SELECT {names} FROM {quote(meta.db_table)} WITH NO DATA"
        )
        copy_rows(model, columns, rows, table=staging)
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {names} FROM {quote(staging)} ON CONFLICT DO NOTHING"
        )
        cursor.execute(f"TRUNCATE {quote(staging)}")
