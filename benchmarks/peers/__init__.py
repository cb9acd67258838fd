"""jobfleet against other Python job queues (issue 15): ``python -m benchmarks.peers [--quick]``.

``systems.py`` says how each system starts its workers, ``apps/`` holds each system's app and
client, ``driver.py`` is the client process of one round, ``rounds.py`` runs a round,
``report.py`` turns samples into tables and the plot.
"""
