"""Every operator command fails in one clear line with a non-zero exit (lms/command.py): bad
arguments, a missing file, a refused value, the database down."""

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import ManagementUtility, call_command, get_commands, load_command_class

from lms.command import OperatorCommand

ROOT = Path(__file__).resolve().parents[2]

OPERATOR_COMMANDS = [
    "create_api_key", "import_orders", "import_products", "seed_demo", "seed_demo_segments", "seed_demo_campaigns",
    "seed_demo_loyalty", "generate_codes", "assign_codes", "expire_points", "rebuild_balances", "refresh_segments",
    "send_test_notification", "sweep_notifications", "dev_bootstrap", "prune_records", "doctor",
]  # fmt: skip


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", *argv]).execute()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.mark.parametrize("name", OPERATOR_COMMANDS)
def test_every_operator_command_is_built_on_the_base_and_says_how_to_re_run_it(name):
    command = load_command_class(get_commands()[name], name)

    assert isinstance(command, OperatorCommand)
    assert "re-run" in command.help.lower() or "safe to run any time" in command.help.lower()


@pytest.mark.parametrize(
    ("argv", "code", "line"),
    [
        (["create_api_key"], 2, "manage.py create_api_key: error: the following arguments are required: name"),
        (["create_api_key", ""], 1, "CommandError: NAME must be 1 to 50 characters."),
        (["import_orders", "/nonexistent/orders.csv"], 1, "CommandError: No such file: /nonexistent/orders.csv"),
        (["import_orders", "x.csv", "--batch-size", "many"], 2, "argument --batch-size: invalid int value: 'many'"),
        (["import_products", "/nonexistent/p.csv"], 1, "CommandError: No such file: /nonexistent/p.csv"),
        (["import_products", "p.csv", "--format", "xml"], 2, "argument --format: invalid choice: 'xml'"),
        (["seed_demo", "--orders", "lots"], 2, "argument --orders: invalid int value: 'lots'"),
        (["seed_demo", "--as-of", "yesterday"], 2, "argument --as-of: not a date or ISO datetime: 'yesterday'"),
        (["seed_demo_segments", "--all"], 2, "unrecognized arguments: --all"),
        (["seed_demo_campaigns", "extra"], 2, "unrecognized arguments: extra"),
        (["seed_demo_loyalty", "--again"], 2, "unrecognized arguments: --again"),
        (["generate_codes", "1", "ten"], 2, "argument count: invalid int value: 'ten'"),
        (["assign_codes", "1"], 2, "the following arguments are required: segment_id"),
        (["expire_points", "--now", "tomorrow"], 1, "CommandError: --now takes an ISO time with its offset"),
        (["expire_points", "--batch", "0"], 1, "CommandError: --batch is 1 or more."),
        (["rebuild_balances", "--fix"], 2, "unrecognized arguments: --fix"),
        (["refresh_segments", "--id", "first"], 2, "argument --id: invalid int value: 'first'"),
        (["send_test_notification", "FAX", "a@b.c"], 2, "argument channel: invalid choice: 'FAX'"),
        (["sweep_notifications", "now"], 2, "unrecognized arguments: now"),
        (["dev_bootstrap"], 1, "CommandError: dev_bootstrap only runs with DEBUG on"),  # the tests run with DEBUG off
        (["prune_records", "--batch-size", "0"], 2, "argument --batch-size: expected a whole number from 1 to 10000"),
        (["doctor", "--timeout", "0"], 1, "CommandError: --timeout is between 0 and 60 seconds."),
    ],
)
def test_a_bad_argument_or_a_missing_file_fails_in_one_line(capsys, argv, code, line):
    exit_code, out, err = _run(capsys, *argv)

    assert exit_code == code
    assert len(err.strip().splitlines()) == 1, err
    assert line in err
    assert "Traceback" not in err and "usage:" not in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.xdist_group("subprocesses")
def test_the_database_down_fails_in_one_line_naming_it():
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/lms"}
    done = subprocess.run(
        [sys.executable, "manage.py", "expire_points"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "CommandError: The database failed: couldn't get a connection after 3.00 sec "
        "(check DATABASE_URL and that PostgreSQL is up)."
    ]


def test_an_unwritable_rejects_file_fails_in_one_line_before_any_import(capsys, tmp_path):
    orders = tmp_path / "orders.jsonl"
    orders.write_text('{"external_id": "A-1"}\n')
    rejects = tmp_path / "missing-dir" / "rejects.csv"

    exit_code, out, err = _run(capsys, "import_orders", str(orders), "--rejects", str(rejects), "--no-progress")

    assert exit_code == 1
    assert err.strip() == f"CommandError: {rejects}: No such file or directory."


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
@pytest.mark.parametrize("argv", [["expire_points"], ["rebuild_balances", "--check"]])
def test_long_loyalty_commands_show_progress_on_a_terminal_and_not_with_no_progress(capsys, argv):
    call_command(*argv, stdout=io.StringIO(), stderr=_Terminal())
    assert "accounts" in capsys.readouterr().err  # tqdm's bar, on stderr

    call_command(*argv, "--no-progress", stdout=io.StringIO(), stderr=_Terminal())
    assert capsys.readouterr().err == ""
