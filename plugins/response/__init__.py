"""The incident response sheet (预案卡片化): for an area drawn or picked when something happens, the people and
households inside, the hazard points inside, the shelters to open and who goes where, the teams to send and when
they arrive, what the depots supply for a number of days, and the usable helipads, as a one-page HTML/PDF card
with a map and a GeoPackage of the same layers.

It reuses the coverage plugin's road network, searches and min-cost-flow assignment and the capacity plugin's
standards, occupancy and stock. ``rallypoint sheet`` writes the card; the analysis ``response`` appears in
``rallypoint analyse``, ``/processes`` and QGIS Processing like any other.
"""
