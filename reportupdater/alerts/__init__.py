"""Alerts on report values and freshness: rules, incidents and their delivery.

``settings`` reads the config keys, ``series`` cuts timelines into series,
``evaluate`` judges them, ``incidents`` turns verdicts into fired and
resolved events, ``store`` keeps incidents and the outbox in the output
folder, ``delivery`` sends email (with ``chart``) and webhooks, and ``sink``
ties them together after a run. Nothing is imported here, so the config
loader can read ``settings`` without loading the rest.
"""
