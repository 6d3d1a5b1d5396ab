"""reportupdater: scheduled report generation into TSV timelines.

A query folder holds query templates (SQL, HiveQL) or scripts and a
``config.yaml``. Each run works out which intervals of which reports are
missing, executes them, merges the results into TSV files and publishes chosen
columns to Graphite. See README.md for the reference.
"""

__version__ = "1.0.0"
