"""``make bench``: build the benchmark scenarios and measure them.

Every scenario is built by this package (data in the local MariaDB, query
folders and TSVs under ``bench/work/``, which git ignores), measured through
the real ``reportupdater`` command in a subprocess, and printed as one line
per figure with its ratio to the floor or target measured in the same run.
"""
