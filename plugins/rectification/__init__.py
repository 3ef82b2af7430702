"""The hazard rectification ledger (隐患排查治理, 清单化整改, 销号) as a Rallypoint plugin.

A related table of hazard points (``hazard_rectification``), the rules of how a record moves from
found to closed (:mod:`.ledger`, enforced on every write path through ``rallypoint_validate_change``),
the lists and rates per township (:mod:`.report`, as an analysis, CLI commands and HTTP endpoints).
"""
