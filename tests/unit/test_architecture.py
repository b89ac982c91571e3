"""The layering rules that import-linter cannot see: only storage/ holds SQL or CQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("actors", "client", "config", "domain", "loadtest", "serve_app", "services")
STATEMENT = re.compile(
    r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\{?\w+\}?(\.\w+)?\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|KEYSPACE|ROLE)"
    r"|ALTER\s+(TABLE|ROLE)|DROP\s+(TABLE|INDEX|KEYSPACE)|TRUNCATE\s|GRANT\s)",
    re.S,
)


def _statements(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and STATEMENT.match(node.value):
            found.append((node.lineno, node.value.strip().splitlines()[0][:80]))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if STATEMENT.match(text):
                found.append((node.lineno, text.strip().splitlines()[0][:80]))
    return found


def test_the_statement_pattern_finds_sql_and_cql() -> None:
    for text in (
        "SELECT a FROM t",
        "INSERT INTO {keyspace}.samples (a) VALUES (?)",
        "UPDATE goals SET x = 1",
        "DELETE FROM {keyspace}.samples WHERE a = ?",
        "TRUNCATE stride.samples",
    ):
        assert STATEMENT.match(text), text
    for text in ("Select one of these", "delete from the list", "UPDATE: the docs changed"):
        assert not STATEMENT.match(text), text


def test_no_sql_or_cql_outside_storage() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for package in APP_PACKAGES
        if (ROOT / package).is_dir()
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in _statements(path)
    ]
    assert offenders == [], "SQL/CQL belongs in storage/:\n" + "\n".join(offenders)
