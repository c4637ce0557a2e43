"""Function rows: a function's current revision and token, and every revision's spec as it
was deployed (jobs run on the revision they were invoked with)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import sqlalchemy as sa

from core.errors import Conflict, NotFound
from core.functions import Function
from core.store import schedulerows
from core.store.database import Database
from core.store.schema import function_revisions, functions


@dataclasses.dataclass(frozen=True)
class StoredFunction:
    """A function's row with the spec of its revision, as stored: `FunctionCatalog` turns
    it into a `Function`, parsing each revision once."""

    name: str
    revision: int
    spec: dict[str, Any]
    token: str = dataclasses.field(default="", repr=False)


_CURRENT = sa.select(functions.c.name, functions.c.revision, functions.c.token,
                     function_revisions.c.spec).join(function_revisions, sa.and_(
                         function_revisions.c.name == functions.c.name,
                         function_revisions.c.revision == functions.c.revision))
_GET_FUNCTION = _CURRENT.where(functions.c.name == sa.bindparam("w_name"))
_GET_REVISION = sa.select(function_revisions.c.spec).where(
    function_revisions.c.name == sa.bindparam("w_name"),
    function_revisions.c.revision == sa.bindparam("w_revision"))
_NEXT_REVISION = sa.select(sa.func.coalesce(sa.func.max(function_revisions.c.revision), 0) + 1
                           ).where(function_revisions.c.name == sa.bindparam("w_name"))
_FUNCTIONS_VERSION = sa.select(sa.func.count(), sa.func.max(functions.c.updated_at))


class FunctionRows:
    """The functions' part of the job store (`JobStore` is one)."""

    db: Database
    _dialect: Any

    def create_function(self, fn: Function, now: float | None = None) -> StoredFunction:
        """Store a new function; its first revision continues the numbers of any earlier
        function of that name."""
        now = now or time.time()

        def create(c) -> int:
            revision = c.execute(_NEXT_REVISION, {"w_name": fn.name}).scalar_one()
            c.execute(functions.insert().values(name=fn.name, revision=revision, token=fn.token,
                                                created_at=now, updated_at=now))
            self._add_revision(c, fn, revision, now)
            return revision
        try:
            revision = self.db.write(create)
        except sa.exc.IntegrityError:
            raise Conflict(f"function {fn.name!r} already exists") from None
        return StoredFunction(fn.name, revision, fn.to_spec(), fn.token)

    def replace_function(self, fn: Function, now: float | None = None, *,
                         new_token: bool = False) -> StoredFunction:
        """Store a new revision of an existing function, keeping its token, or with
        `new_token` taking `fn`'s."""
        now = now or time.time()
        token = {"token": fn.token} if new_token else {}
        statement = (functions.update().where(functions.c.name == fn.name)
                     .values(revision=_NEXT_REVISION.scalar_subquery(), updated_at=now, **token)
                     .returning(functions.c.revision, functions.c.token))

        def replace(c):
            row = c.execute(statement, {"w_name": fn.name}).first()
            if row is not None:
                self._add_revision(c, fn, row.revision, now)
            return row
        row = self.db.write(replace)
        if row is None:
            raise NotFound(f"function {fn.name!r} does not exist")
        return StoredFunction(fn.name, row.revision, fn.to_spec(), row.token)

    def _add_revision(self, connection, fn: Function, revision: int, now: float) -> None:
        """The revision's spec, and its schedule's next fire time, in one transaction."""
        connection.execute(function_revisions.insert().values(
            name=fn.name, revision=revision, spec=fn.to_spec(), created_at=now))
        schedulerows.place(connection, self._dialect, fn, now)

    def set_token(self, name: str, token: str, now: float | None = None) -> None:
        """Give the function a new token: the old one invokes it no more."""
        changed = self.db.write(lambda c: c.execute(
            functions.update().where(functions.c.name == name)
            .values(token=token, updated_at=now or time.time())).rowcount)
        if changed == 0:
            raise NotFound(f"function {name!r} does not exist")

    def get_function(self, name: str) -> StoredFunction:
        row = self.db.read(lambda c: c.execute(_GET_FUNCTION, {"w_name": name}).first())
        if row is None:
            raise NotFound(f"function {name!r} does not exist")
        return StoredFunction(row.name, row.revision, row.spec, row.token)

    def get_revision(self, name: str, revision: int) -> StoredFunction:
        """A revision as it was deployed, whether or not it is still the current one."""
        params = {"w_name": name, "w_revision": revision}
        spec = self.db.read(lambda c: c.execute(_GET_REVISION, params).scalar())
        if spec is None:
            raise NotFound(f"function {name!r} has no revision {revision}")
        return StoredFunction(name, revision, spec)

    def list_functions(self) -> list[StoredFunction]:
        rows = self.db.read(
            lambda c: c.execute(_CURRENT.order_by(functions.c.name)).all())
        return [StoredFunction(r.name, r.revision, r.spec, r.token) for r in rows]

    def functions_version(self) -> tuple[int, float]:
        """Changes whenever a function is created, replaced or deleted: a cheap freshness
        check for caches of the function list."""
        row = self.db.read(lambda c: c.execute(_FUNCTIONS_VERSION).first())
        return row[0], row[1] or 0.0

    def delete_function(self, name: str) -> None:
        """Its revisions stay: jobs still queued on them run as they were invoked. Its
        schedule goes with it."""
        def delete(c) -> int:
            schedulerows.delete(c, name)
            return c.execute(functions.delete().where(functions.c.name == name)).rowcount
        deleted = self.db.write(delete)
        if deleted == 0:
            raise NotFound(f"function {name!r} does not exist")
