"""The web portal for people: ``/`` in a browser (the map first, the registry at a glance, every report and
analysis, search), the sign-in page, and the search and panel answers its page asks for.

Clients keep the machine-readable landing page at the same ``/`` (``Accept: application/json`` or ``f=json``).
Everything here is framework-free, as the rest of :mod:`rallypoint.api`; the cookies of a sign-in are
:mod:`rallypoint.web.session`'s. Plugins add panels through the ``rallypoint_portal_panels`` hook
(:mod:`rallypoint.portal`).
"""
