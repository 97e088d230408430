"""The managers' dashboard (docs/dashboard.md): ``/dashboard/…`` and ``GET /api/v1/stats/``.

It reads billing and workflow only through their stats and selectors (``billing.stats``,
``workflow.stats``) and the organisation layer (``organisation.models``, ``organisation.roles``). Its modules,
from the bottom up (each imports only modules listed before it):

* ``measures`` — what is counted: the measures, category columns, state groups, ``Figure``;
* ``filters`` — who sees what, the filter form, ``Filters``;
* ``tables`` — ``Column``/``Row``/``Table`` and how a value is written;
* ``money_tables``, ``chain_tables`` — the dashboard's tables, as mixins of ``Figures``;
* ``figures`` — ``Figures``: one request's figures, read in a fixed number of queries;
* ``exports`` (CSV/XLSX), ``pdf`` (the month's report), ``drilldowns`` (the lists behind a figure);
* ``views``, ``api`` (``GET /api/v1/stats/``), ``urls``.

``tests/dashboard/test_structure.py`` keeps the graph free of cycles and the modules short.
"""
