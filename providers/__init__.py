"""Adapters to outside services.

Nothing in this package imports Flask or the database: an adapter turns a message into a
provider call and the answer into a result, or raises one of the two errors in
:mod:`providers.errors`. Every adapter takes its base URL as an argument so tests and
self-hosters can point it at local servers.
"""
