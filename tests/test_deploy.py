"""The deploy/ files: systemd units that verify, and a cron line that works.

``systemd-analyze verify`` refuses a unit whose ExecStart binary does not
exist, so the units are verified as copies in which only that one path is
rewritten to this venv's ``reportupdater``; everything else is verified as
shipped. The verifier is also shown a broken unit, to prove it can fail.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from reportupdater.cli import EXIT_QUEUED, build_parser

DEPLOY = REPO / "deploy"
SERVICE = "reportupdater@.service"
TIMER = "reportupdater@.timer"
FAILURE = "reportupdater-failure@.service"
INSTALLED_BINARY = "/srv/reportupdater/venv/bin/reportupdater"
VENV_BINARY = str(Path(sys.executable).with_name("reportupdater"))
INSTANCES = ["reportupdater@editing.service", "reportupdater@editing.timer",
             "reportupdater-failure@reportupdater@editing.service.service"]


def unit_settings(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every setting of a unit file, in order."""
    settings, section = [], ""
    for line in (DEPLOY / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            settings.append((section, key.strip(), value.strip()))
    return settings


def setting(name: str, section: str, key: str) -> list[str]:
    return [v for s, k, v in unit_settings(name) if (s, k) == (section, key)]


def verify(folder: Path, units: list[str] = INSTANCES) -> tuple[int, str]:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], cwd=folder,
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def installable_copy(folder: Path) -> Path:
    """The units as shipped, but for the ExecStart binary of the run."""
    folder.mkdir(exist_ok=True)
    for name in (SERVICE, TIMER, FAILURE):
        shutil.copy(DEPLOY / name, folder / name)
    service = folder / SERVICE
    text = service.read_text()
    assert text.count(INSTALLED_BINARY) == 1
    service.write_text(text.replace(INSTALLED_BINARY, VENV_BINARY))
    return folder


def test_the_units_verify(tmp_path):
    code, output = verify(installable_copy(tmp_path))
    assert (code, output) == (0, "")


@pytest.mark.parametrize("unit, good, bad", [
    (SERVICE, "ProtectSystem=strict", "ProtectSysem=strict"),  # a warning only
    (TIMER, "OnCalendar=hourly", "OnCalendar=hourlyy"),
    (SERVICE, f"ExecStart={VENV_BINARY}", "ExecStart=/nonexistent/reportupdater"),
    (FAILURE, "ExecStart=/bin/sh -c", "ExecStart=sh -c '"),
])
def test_verify_catches_a_broken_unit(tmp_path, unit, good, bad):
    folder = installable_copy(tmp_path)
    text = (folder / unit).read_text()
    assert good in text
    (folder / unit).write_text(text.replace(good, bad, 1))
    code, output = verify(folder)
    assert code != 0 or output != ""


def test_the_timer_is_hourly_and_persistent():
    assert setting(TIMER, "Timer", "OnCalendar") == ["hourly"]
    assert setting(TIMER, "Timer", "Persistent") == ["true"]
    assert setting(TIMER, "Install", "WantedBy") == ["timers.target"]


def test_the_service_runs_as_its_own_user_hardened():
    assert setting(SERVICE, "Service", "User") == ["reportupdater"]
    assert setting(SERVICE, "Service", "ProtectSystem") == ["strict"]
    writable = " ".join(setting(SERVICE, "Service", "ReadWritePaths")).split()
    assert writable == ["/srv/reportupdater/output/%i", "/srv/reportupdater/queries/%i"]
    assert setting(SERVICE, "Service", "NoNewPrivileges") == ["true"]


def test_on_failure_names_a_shipped_unit_and_exit_3_is_no_failure():
    [on_failure] = setting(SERVICE, "Unit", "OnFailure")
    assert on_failure == "reportupdater-failure@%n.service"
    assert (DEPLOY / FAILURE).is_file()
    assert setting(SERVICE, "Service", "SuccessExitStatus") == [str(EXIT_QUEUED)]


def run_command(instance: str) -> list[str]:
    [exec_start] = setting(SERVICE, "Service", "ExecStart")
    return shlex.split(exec_start.replace("%i", instance))


def test_exec_start_is_a_valid_run_command():
    argv = run_command("editing")
    assert argv[0] == INSTALLED_BINARY
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"
    assert args.query_folder == Path("/srv/reportupdater/queries/editing")
    assert args.output_folder == Path("/srv/reportupdater/output/editing")


def cron_job() -> tuple[list[str], str]:
    """The five time fields and the user, and the command of the cron line."""
    [line] = [line for line in (DEPLOY / "reportupdater.cron").read_text().splitlines()
              if line and not line.startswith("#") and "=" not in line.split()[0]]
    fields = line.split(None, 6)
    return fields[:6], fields[6]


def test_the_cron_line_is_hourly_and_runs_what_the_service_runs():
    schedule, command = cron_job()
    assert schedule == ["0", "*", "*", "*", "*", "reportupdater"]
    assert "%" not in command  # cron turns % into a newline
    run = shlex.split(command.split(";")[0])
    assert run[:len(run_command("editing"))] == run_command("editing")
    assert run[len(run_command("editing")):] == [
        "--log-file", "/var/log/reportupdater/editing.log"]


CRON_FOLDER_CONFIG = """\
reports:
    hello:
        type: script
        granularity: months
        starts: 2026-01-01
"""
HELLO = """\
#!/bin/sh
if [ -e "$3/broken" ]; then echo "broken" >&2; exit 1; fi
printf 'month\\tn\\n%s\\t1\\n' "$1"
"""


@pytest.mark.parametrize("broken, printed", [
    (False, ""),
    (True, "reportupdater failed for editing (exit status 1); see {log}\n"),
])
def test_the_cron_command_prints_only_when_the_run_fails(tmp_path, make_folder, broken,
                                                         printed):
    queries = make_folder(CRON_FOLDER_CONFIG, executables={"hello": HELLO})
    output, log = tmp_path / "output", tmp_path / "run.log"
    if broken:
        (queries / "broken").touch()
    _, command = cron_job()
    command = (command.replace(INSTALLED_BINARY, VENV_BINARY)
               .replace("/srv/reportupdater/queries/editing", str(queries))
               .replace("/srv/reportupdater/output/editing", str(output))
               .replace("/var/log/reportupdater/editing.log", str(log)))
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout + result.stderr == printed.format(log=log)
    assert "run finished" in log.read_text()


def failure_script() -> list[str]:
    """The failure unit's ExecStart as the shell gets it (systemd unescaped)."""
    [exec_start] = setting(FAILURE, "Service", "ExecStart")
    expanded = exec_start.replace("%H", socket.gethostname()).replace(
        "%i", "reportupdater@editing.service")
    return [arg.replace("$$", "$") for arg in shlex.split(expanded)]


def fake_tools(folder: Path, tools: dict[str, str]) -> str:
    folder.mkdir()
    for name, body in tools.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return f"{folder}:{os.environ.get('PATH', '/usr/bin:/bin')}"


@pytest.mark.parametrize("with_mail", [True, False])
def test_the_failure_unit_mails_or_logs_the_status(tmp_path, with_mail):
    sent = tmp_path / "sent"
    tools = {"systemctl": 'echo "status of $5"',
             "logger": f'{{ echo "logger $*"; cat; }} > {sent}'}
    if with_mail:
        tools["mail"] = f'{{ echo "mail $*"; cat; }} > {sent}'
    path = fake_tools(tmp_path / "bin", tools)
    argv = failure_script()
    assert argv[:2] == ["/bin/sh", "-c"]
    env = {"PATH": path, "MAILTO": "analytics@example.org"}
    if not with_mail:  # only our tools, so a real mail command can't be found
        os.symlink(shutil.which("cat"), tmp_path / "bin" / "cat")
        env["PATH"] = str(tmp_path / "bin")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    first = (f"mail -s reportupdater@editing.service failed on {socket.gethostname()} "
             "analytics@example.org") if with_mail \
        else "logger -p user.err -t reportupdater-failure"
    assert sent.read_text() == f"{first}\nstatus of reportupdater@editing.service\n"
