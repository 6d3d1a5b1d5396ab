"""Find and read the template or script a report (or a cohort) executes.

Input: the report type, the ``execute`` name and the query folder. Output: a
``Template`` (the script's path, or the text of ``NAME.sql``/``NAME.hql`` or
its ``.j2`` Jinja2 form), or None after reporting why through ``bad``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..templates import Template, TemplateKind
from .model import ReportType
from .source import SourceError, read_text
from .spec import ProblemSink


def read_template(report_type: ReportType, execute: str, query_folder: Path,
                  bad: ProblemSink) -> Template | None:
    if report_type is ReportType.SCRIPT:
        script = query_folder / execute
        if not os.path.isfile(script):
            bad(f"script {str(script)!r} does not exist", "execute")
            return None
        if not os.access(script, os.X_OK):
            bad(f"script {str(script)!r} is not executable (chmod +x it)", "execute")
            return None
        return Template(path=script, kind=TemplateKind.SCRIPT, language=report_type)
    extension = "sql" if report_type is ReportType.SQL else "hql"
    legacy = query_folder / f"{execute}.{extension}"
    jinja = query_folder / f"{execute}.{extension}.j2"
    if os.path.exists(legacy) and os.path.exists(jinja):
        bad(f"both {str(legacy)!r} and {str(jinja)!r} exist; keep only one", "execute")
        return None
    chosen, kind = ((jinja, TemplateKind.JINJA) if os.path.exists(jinja)
                    else (legacy, TemplateKind.FORMAT))
    if not os.path.exists(chosen):
        bad(f"template {str(legacy)!r} (or {jinja.name!r}) does not exist", "execute")
        return None
    try:
        text = read_text(chosen)
    except SourceError as e:
        bad(f"template {str(chosen)!r} cannot be read: {e.message}", "execute")
        return None
    return Template(path=chosen, kind=kind, language=report_type, text=text)
