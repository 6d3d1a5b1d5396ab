"""The config stage: read a query folder's ``config.yaml`` once into frozen values.

``load_config`` returns a ``Config`` (usable reports plus every problem, each
naming file, line, report, key and value). The modules: ``source`` reads text
and YAML within limits, ``spec`` and ``sections`` declare every key,
``loader``/``report``/``services``/``hive``/``explode`` build the values, and
``model`` holds the dataclasses and Enums the rest of the package reads.
"""

from ..templates import Template, TemplateKind
from .explode import JINJA_EXTRA_VARIABLES, TEMPLATE_VARIABLES
from .loader import find_config_path, load_config
from .model import (DEFAULT_HIVE_COMMAND, DEFAULT_MAX_RUN_SECONDS, Config, DatabaseConfig,
                    DatabaseEngine, Dialect, ExplodeValues, GraphiteConfig, GraphiteProtocol, HiveAuth,
                    HiveBackend, HiveSettings, Problem, ReportConfig, ReportGraphite,
                    ReportType, StatsdConfig)
from .names import check_explode_value, plain_value_problem
from .sections import DATABASE, GRAPHITE, HIVE, REPORT, STATSD, TOP_LEVEL
from .source import yaml_key_lines as _yaml_lines

# The key sets as other modules and tests have known them.
TOP_LEVEL_KEYS = frozenset(TOP_LEVEL.fields)
REPORT_KEYS = frozenset(REPORT.fields)
DATABASE_KEYS = frozenset(DATABASE.fields)
GRAPHITE_KEYS = frozenset(GRAPHITE.fields)
STATSD_KEYS = frozenset(STATSD.fields)
HIVE_KEYS = frozenset(HIVE.fields)
REPORT_TYPES = tuple(t.value for t in ReportType)

__all__ = [
    "Config", "DatabaseConfig", "DatabaseEngine", "DEFAULT_HIVE_COMMAND",
    "DEFAULT_MAX_RUN_SECONDS", "Dialect", "ExplodeValues", "GraphiteConfig", "GraphiteProtocol",
    "HiveAuth", "HiveBackend", "HiveSettings", "JINJA_EXTRA_VARIABLES", "Problem",
    "ReportConfig", "ReportGraphite", "ReportType", "StatsdConfig", "TEMPLATE_VARIABLES",
    "Template", "TemplateKind", "check_explode_value", "find_config_path", "load_config",
    "plain_value_problem", "TOP_LEVEL_KEYS", "REPORT_KEYS", "DATABASE_KEYS",
    "GRAPHITE_KEYS", "STATSD_KEYS", "HIVE_KEYS", "REPORT_TYPES", "_yaml_lines",
]
