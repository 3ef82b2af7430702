"""What every report of Rallypoint's analyses shares, so each says things the same way: local times
(:mod:`.times`), people and percentages (:mod:`.numbers`), units in Chinese (:mod:`.units`), warnings in the
report's language (:mod:`.notes`), the furniture of a map — legend, scale bar, north arrow (:mod:`.maps`) —, the
page and its print rules (:mod:`.page`), printing to PDF (:mod:`.pdf`) and the report's HTTP route (:mod:`.web`).

A library of the plugins, not a plugin: it implements no hook and imports no plugin, so any plugin may import it
without a circle. Importing it loads neither matplotlib nor pandas.
"""
