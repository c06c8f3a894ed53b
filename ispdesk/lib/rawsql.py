"""Hand-written, portable SELECTs for the hottest reads, run without the ORM's query building.

Building and compiling a queryset costs several times what running a small indexed query
does, on every call; the few reads that run for every decision or every incoming message
(the assignment engine's team facts, the hand-over's chat lock) are written once per database
vendor instead: names quoted from the models' meta, values passed as parameters, each
column's value converted by the backend's and the field's own converters, as a queryset
would. (Names come from model meta, values are parameters: hence the `noqa: S608` where the
statements are written.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)
T = TypeVar("T")


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(cast(str, fields(model, name)[0].column))}"


def name(model: type[Model], field_name: str) -> str:
    """The quoted column alone, as an UPDATE's SET clause wants it."""
    return connection.ops.quote_name(cast(str, fields(model, field_name)[0].column))


# Values per `IN (...)` list: far below every database's parameter limit (SQLite's 999 in
# older builds).
IN_CHUNK = 500


def in_chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in slices of at most IN_CHUNK, one `IN (...)` query each."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def marks(count: int) -> str:
    """`count` parameter placeholders, comma-separated (an `IN (...)` list, a VALUES row)."""
    return ", ".join(["%s"] * count)


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run a hand-written statement; return the rows it changed (matched, on MariaDB)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def moment(value: datetime | None) -> Any:
    """A date-time as a parameter: stored as the ORM stores it (SQLite and MariaDB keep
    naive UTC, compared as the ORM wrote them)."""
    return connection.ops.adapt_datetimefield_value(value)


def fields(model: type[Model], *names: str) -> list[Field]:
    return [cast(Field, model._meta.get_field(name)) for name in names]


@dataclass(frozen=True)
class Select:
    """A hand-written SELECT, and how to convert its columns' values as a queryset would."""

    sql: str
    conversions: tuple[tuple[int, Col, tuple[Callable[..., Any], ...]], ...]

    @classmethod
    def of(cls, sql: str, *selected: Field | None) -> Select:
        """The SELECT whose columns hold `selected` (None: taken as the database gives it)."""
        conversions = []
        for index, model_field in enumerate(selected):
            if model_field is None:
                continue
            col = model_field.get_col(model_field.model._meta.db_table)
            ops = connection.ops
            found = (*ops.get_db_converters(col), *model_field.get_db_converters(connection))
            if found:
                conversions.append((index, col, found))
        return cls(sql, tuple(conversions))

    def rows(self, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return self.converted(cursor.fetchall())

    def converted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows this SELECT gave, each column's value converted as a queryset would."""
        if not self.conversions:
            return list(rows)
        converted = []
        for row in rows:
            values = list(row)
            for index, col, converters in self.conversions:
                for convert in converters:
                    values[index] = convert(values[index], col, connection)
            converted.append(tuple(values))
        return converted


@dataclass(frozen=True)
class SelectRows(Generic[M]):
    """A SELECT of whole rows of one model, giving model instances (as `Model.from_db`)."""

    model: type[M]
    select: Select
    attnames: tuple[str, ...]
    locks: bool = False

    @classmethod
    def where(cls, model: type[M], condition: str, *, lock: bool = False) -> SelectRows[M]:
        """Every concrete column of `model`'s rows matching `condition` (SQL with `%s`
        parameters, naming columns with `column()`), locked FOR UPDATE when the database
        can lock rows and `lock` is true."""
        selected = list(model._meta.concrete_fields)
        names = ", ".join(column(model, cast(str, field.name)) for field in selected)
        locking = connection.features.has_select_for_update and lock
        suffix = f" {connection.ops.for_update_sql()}" if locking else ""
        sql = f"SELECT {names} FROM {table(model)} WHERE {condition}{suffix}"  # noqa: S608 - names from model meta
        attnames = tuple(field.attname for field in selected)
        return cls(model, Select.of(sql, *selected), attnames, locking)

    def instances(self, params: Sequence[Any]) -> list[M]:
        if self.locks and connection.get_autocommit():
            raise TransactionManagementError("a locking read needs a transaction")
        return self.from_rows(self.select.rows(params))

    def from_rows(self, rows: list[tuple[Any, ...]]) -> list[M]:
        """Model instances from the (converted) rows of this SELECT."""
        return [self.model.from_db(connection.alias, list(self.attnames), row) for row in rows]


def rows_together(*selects: tuple[Select, Sequence[Any]]) -> list[list[tuple[Any, ...]]]:
    """Each SELECT's rows (as `Select.rows`), in order. On PostgreSQL with client-side
    binding (Django's default) they go in one round trip: the statements still run one
    after another, each seeing what committed before it started, as separate ones would."""
    options = connection.settings_dict.get("OPTIONS") or {}
    if connection.vendor != "postgresql" or options.get("server_side_binding") or len(selects) < 2:
        return [select.rows(params) for select, params in selects]
    sql = "; ".join(select.sql for select, _params in selects)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for _select, params in selects for value in params])
        found = [selects[0][0].converted(cursor.fetchall())]
        for select, _params in selects[1:]:
            cursor.nextset()
            found.append(select.converted(cursor.fetchall()))
    return found


def update_row(instance: Model, *names: str) -> None:
    """`instance.save(update_fields=names)` (every column without names) of a row known to
    exist, as one hand-written UPDATE (a model with no save signals or `save()` of its own:
    none is sent or called)."""
    write_together(Update(instance, names))


def insert_row(instance: Model) -> None:
    """`instance.save(force_insert=True)` as one hand-written INSERT (a model with no save
    signals or `save()` of its own: none is sent or called). The instance gets the primary
    key the database chose, when it had none."""
    write_together(Insert(instance))


@dataclass(frozen=True)
class Update:
    """`update_row(instance, *names)`, for `write_together`."""

    instance: Model
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Insert:
    """`insert_row(instance)`, for `write_together`."""

    instance: Model


def write_together(*writes: Update | Insert) -> None:
    """Run the writes in order, as `update_row` and `insert_row` would: on PostgreSQL in one
    statement (each a data-modifying WITH query, run once and to completion whatever the
    others do), so several writes cost one round trip to the server; elsewhere one by one."""
    statements = [_statement(write) for write in writes]
    if connection.vendor != "postgresql" or len(statements) == 1:
        with connection.cursor() as cursor:
            for write, (sql, params) in zip(writes, statements, strict=True):
                cursor.execute(sql, params)
                _done(write, cursor.rowcount, cursor)
        return
    parts, params, results = [], [], []
    for n, (write, (sql, values)) in enumerate(zip(writes, statements, strict=True)):
        if isinstance(write, Update):
            parts.append(f"w{n} AS ({sql} RETURNING 1)")
            results.append(f"(SELECT COUNT(*) FROM w{n})")  # noqa: S608 - no values in it
        elif _insert(type(write.instance), connection.vendor)[2]:
            parts.append(f"w{n} AS ({sql})")  # RETURNING its primary key (`_insert`)
            results.append(f"(SELECT * FROM w{n})")  # noqa: S608 - no values in it
        else:
            parts.append(f"w{n} AS ({sql})")
            results.append("NULL")
        params += values
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {', '.join(results)}", params)
        row = cursor.fetchone()
    for write, value in zip(writes, row, strict=True):
        _done(write, value, None, returned=value)


def _statement(write: Update | Insert) -> tuple[str, list[Any]]:
    instance = write.instance
    model = type(instance)
    if isinstance(write, Update):
        saved, sql = _update(model, write.names, connection.vendor)
        values = [
            field.get_db_prep_save(field.pre_save(instance, False), connection) for field in saved
        ]
        return sql, [*values, instance.pk]
    saved, sql, _returning = _insert(model, connection.vendor)
    return sql, [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in saved
    ]


def _done(write: Update | Insert, changed: int, cursor: Any, *, returned: Any = None) -> None:
    """What a write's statement did to its instance: an update must have changed its row; an
    insert gives the instance its new primary key (from `returned` when the statement ran
    inside another, else from `cursor`)."""
    instance = write.instance
    model = type(instance)
    if isinstance(write, Update):
        if changed != 1:
            raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone")  # type: ignore[attr-defined]
        return
    auto = model._meta.auto_field
    if auto is not None:
        if cursor is None:
            new_pk = returned
        elif _insert(model, connection.vendor)[2]:
            new_pk = cursor.fetchone()[0]
        else:
            new_pk = cursor.lastrowid
        setattr(instance, auto.attname, new_pk)
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.cache
def _update(
    model: type[Model], names: tuple[str, ...], vendor: str
) -> tuple[tuple[Field, ...], str]:
    concrete = [field for field in model._meta.concrete_fields if not field.primary_key]
    saved = tuple(field for field in concrete if not names or field.name in names)
    unknown = set(names) - {field.name for field in saved}
    if unknown:  # as save(update_fields=...) says
        raise ValueError(f"{model.__name__} has no field(s) to update named {sorted(unknown)}")
    sets = ", ".join(f"{name(model, cast(str, field.name))} = %s" for field in saved)
    pk = cast(str, cast(Field, model._meta.pk).name)
    sql = f"UPDATE {table(model)} SET {sets} WHERE {column(model, pk)} = %s"  # noqa: S608 - names from model meta
    return saved, sql


@functools.cache
def _insert(model: type[Model], vendor: str) -> tuple[tuple[Field, ...], str, bool]:
    auto = model._meta.auto_field
    saved = tuple(field for field in model._meta.concrete_fields if field is not auto)
    names = ", ".join(name(model, cast(str, field.name)) for field in saved)
    sql = f"INSERT INTO {table(model)} ({names}) VALUES ({marks(len(saved))})"  # noqa: S608 - names from model meta
    returning = auto is not None and connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {name(model, cast(str, cast(Field, auto).name))}"
    return saved, sql, returning
