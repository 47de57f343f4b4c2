"""SDK service objects for a connection, made in one place."""
from __future__ import annotations

from appwrite.services.functions import Functions
from appwrite.services.messaging import Messaging
from appwrite.services.proxy import Proxy
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users

from alertwrite.stores.transport import compatible

from .connection import Connection


class Services:
    def __init__(self, connection: Connection):
        client = connection.client()
        self.tables_db = TablesDB(client)
        self.messaging = Messaging(client)
        self.functions = compatible(Functions)(client)
        self.proxy = Proxy(client)
        self.users = Users(client)
