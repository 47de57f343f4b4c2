"""`AppwriteFake`: one stateful stand-in for the Appwrite REST API, for tests and benchmarks."""
from __future__ import annotations

import re
from contextlib import contextmanager

import responses

from .accounts import Accounts
from .core import ApiError, Call, FakeCore
from .functions import Functions
from .messaging import Messaging
from .sites import Sites
from .tablesdb import TablesDB


class AppwriteFake(FakeCore):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.db = TablesDB(self)
        self.messaging = Messaging(self)
        self.functions = Functions(self)
        self.accounts = Accounts(self)
        self.sites = Sites(self, self.functions)

    # conveniences for assertions
    def rows(self, database: str, table: str) -> dict[str, dict]:
        return self.db.rows.get((database, table), {})

    def messages(self) -> list[dict]:
        return list(self.messaging.messages.values())

    @contextmanager
    def running(self):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            self.install(mock)
            # Loopback traffic (a local `alertwrite serve`, Alertmanager) is real HTTP.
            mock.add_passthru(re.compile(r"https?://(127\.0\.0\.1|localhost)[:/]"))
            yield self


__all__ = ["AppwriteFake", "ApiError", "Call"]
