"""OGC API – Features: collections, items, queries, CQL2 filters (Part 3) and transactions (Part 4).

:mod:`.collections` (the collections and their queryables), :mod:`.items` (pages and single
features), :mod:`.query` (the items' parameters checked into an :class:`~rallypoint.storage.base.ItemsQuery`),
:mod:`.cql` (a filter parsed and checked) and :mod:`.cql_sql` (translated into SQL for the backend's
dialect), :mod:`.transactions` (create, replace, update, delete with ETags).
"""
