"""Run and test reports locally, on fixture tables instead of the cluster.

See ``trying`` (execute chosen intervals), ``engine`` (DuckDB over fixtures),
``transpile`` (MariaDB and Hive SQL to DuckDB), ``fixtures`` (finding and
loading tables), ``cases`` (a query folder's test cases) and ``scaffold``
(writing example fixtures).
"""
