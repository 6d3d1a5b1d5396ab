"""The sinks a run publishes to, each a module with one job.

Graphite is split by stage: ``graphite_points`` (rows to points),
``outbox`` (points kept on disk until delivered), ``sender`` (TCP delivery,
confirmed), ``graphite`` (the run's sink) and ``push`` (history from the
TSVs). Then ``statsd`` (the pipeline's health), ``state`` (each report's last
failure, for ``status``) and ``progress`` (the bar on stderr). Nothing here
is imported until asked for.
"""
