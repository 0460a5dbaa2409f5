"""Every engine CLI on odd inputs: an empty file (0 bytes, or only blank lines), a missing file, an empty
folder, a folder of subfolders, a non-JSON file, a binary file. Each gives one clear line on stderr and a
non-zero exit; `price-cdrs` on a file with no CDRs warns, writes 0 rows and exits 3 (0 with --allow-empty)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tariff_engine.cdr_files import EXIT_NO_CDRS
from tariff_engine.cli import main

DOORS = Path(__file__).resolve().parents[1] / "fixtures" / "engine_doors"
TARIFF = DOORS / "tariffs" / "ocpi" / "NL-GRX-DC.json"
CDR = DOORS / "cdr_nl_grx.json"
CDR_LINES = DOORS / "cdrs.jsonl"
REQUEST = Path(__file__).resolve().parents[1] / "engine_adapters" / "fixtures" / "quote_request.json"


@pytest.fixture
def odd(tmp_path: Path) -> dict[str, Path]:
    """One path per odd input, with the words its error must contain."""
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "blank.json").write_bytes(b"\n  \n\t\n")
    (tmp_path / "text.json").write_text("hello, not json\n")
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "nested" / "a").mkdir(parents=True)
    (tmp_path / "nested" / "b").mkdir()
    return {name: tmp_path / name for name in
            ("empty.json", "blank.json", "text.json", "binary.json", "missing.json", "empty-folder", "nested")}


FILE_ERRORS = {  # input -> what the one-line error says
    "empty.json": "is empty", "blank.json": "is empty (only blank lines)", "text.json": "is not valid JSON",
    "binary.json": "not UTF-8 text", "missing.json": "not found", "empty-folder": "is a folder",
    "nested": "is a folder",
}


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("name", list(FILE_ERRORS))
@pytest.mark.parametrize("command", ["price-cdr", "explain"])
def test_price_cdr_and_explain_refuse_an_odd_cdr_or_tariff_file(capsys, odd, command, name):
    code, out, err = run(capsys, command, "--cdr", odd[name], "--tariff", TARIFF)
    assert (code, out) == (2, "")
    assert one_line(err).startswith(f"error: CDR file ") and FILE_ERRORS[name] in err and name in err
    code, out, err = run(capsys, command, "--cdr", CDR, "--tariff", odd[name])
    assert (code, out) == (2, "")
    assert one_line(err).startswith(f"error: tariff file ") and FILE_ERRORS[name] in err and name in err


@pytest.mark.parametrize("name", ["empty.json", "blank.json", "text.json", "binary.json", "missing.json"])
def test_lint_refuses_an_odd_tariff_file(capsys, odd, name):
    code, out, err = run(capsys, "lint", "--tariff", odd[name])
    assert (code, out) == (2, "")
    assert one_line(err).startswith("error: tariff ") and FILE_ERRORS[name] in err


def test_lint_refuses_an_empty_folder_and_a_folder_of_subfolders(capsys, odd):
    code, _, err = run(capsys, "lint", "--tariff", odd["empty-folder"])
    assert code == 2 and one_line(err).endswith("or its subfolders (it is empty)\n")
    code, _, err = run(capsys, "lint", "--tariff", odd["nested"])
    assert code == 2 and one_line(err).endswith("or its subfolders (it holds: a, b)\n")


def test_lint_of_a_folder_reports_each_unreadable_file_and_lints_the_rest(capsys, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "empty.json").write_bytes(b"")
    (tmp_path / "bad" / "text.json").write_text("not json")
    shutil.copy(TARIFF, tmp_path / "NL-GRX-DC.json")
    code, out, err = run(capsys, "lint", "--tariff", tmp_path)
    assert code == 1 and err == ""  # findings, not an input error: the good file is still linted
    lines = out.splitlines()
    assert lines[0] == "NL-GRX-DC.json (ocpi): no findings"
    assert lines[1].startswith("bad/empty.json (unreadable): ERROR   UNREADABLE_FILE") and lines[1].endswith("is empty")
    assert lines[2].startswith("bad/text.json (unreadable): ERROR   UNREADABLE_FILE") and "not valid JSON" in lines[2]
    assert len(lines) == 3


@pytest.mark.parametrize("name", list(FILE_ERRORS))
def test_quote_refuses_an_odd_request_file(capsys, odd, name):
    code, out, err = run(capsys, "quote", "--request", odd[name], "--tariffs", TARIFF.parent)
    assert (code, out) == (2, "")
    assert one_line(err).startswith("error: request file ") and FILE_ERRORS[name] in err


def test_quote_refuses_odd_tariff_folders_and_vehicle_files(capsys, odd, tmp_path):
    code, _, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", odd["empty-folder"])
    assert code == 2 and "(it is empty)" in one_line(err)
    code, _, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", odd["nested"])
    assert code == 2 and "(it holds: a, b)" in one_line(err)
    code, _, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", odd["missing.json"])
    assert code == 2 and one_line(err) == f"error: tariff folder not found: {odd['missing.json']}\n"
    code, _, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", odd["text.json"])
    assert code == 2 and one_line(err) == f"error: not a folder: {odd['text.json']}\n"
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    shutil.copy(odd["empty.json"], unreadable / "a.json")
    shutil.copy(odd["text.json"], unreadable / "b.json")
    code, out, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", unreadable)
    assert (code, out) == (2, "")
    assert one_line(err).startswith(f"error: no readable tariff in {unreadable} (2 refused; first: a.json: ")
    code, _, err = run(capsys, "quote", "--request", REQUEST, "--tariffs", TARIFF.parent, "--vehicles", odd["blank.json"])
    assert code == 2 and one_line(err).startswith("error: vehicles file ") and "is empty" in err


@pytest.mark.parametrize("content", [b"", b"\n\n   \n\r\n"], ids=["0 bytes", "blank lines"])
def test_price_cdrs_on_a_file_without_cdrs_warns_writes_0_rows_and_exits_3(capsys, tmp_path, content):
    source, out = tmp_path / "cdrs.jsonl", tmp_path / "priced.parquet"
    source.write_bytes(content)
    code, stdout, err = run(capsys, "price-cdrs", "--cdrs", source, "--out", out)
    assert (code, stdout) == (EXIT_NO_CDRS, "") and EXIT_NO_CDRS == 3
    assert one_line(err) == f"warning: {source} holds no CDRs (empty or only blank lines); wrote 0 rows to {out}\n"
    written = pl.read_parquet(out)
    assert written.height == 0 and written.columns[:7] == ["line", "cdr_id", "session_id", "tariff_id", "currency",
                                                           "error_code", "error"]
    code, _, err = run(capsys, "price-cdrs", "--cdrs", source, "--out", out, "--allow-empty")
    assert code == 0 and one_line(err).startswith("warning: ")


@pytest.mark.parametrize(("content", "lines", "first"), [
    (b"hello, not json\n", 1, "line 0: not a readable CDR object"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", 3, "line 0: not a readable CDR object"),
    (b"[1, 2]\n\"text\"\n", 2, "line 0: not a readable CDR object"),
], ids=["text", "binary", "json but no objects"])
def test_price_cdrs_refuses_a_file_that_is_not_ndjson_and_writes_nothing(capsys, tmp_path, content, lines, first):
    source, out = tmp_path / "cdrs.jsonl", tmp_path / "priced.parquet"
    source.write_bytes(content)
    code, stdout, err = run(capsys, "price-cdrs", "--cdrs", source, "--out", out)
    assert (code, stdout) == (2, "") and not out.exists()
    assert one_line(err).startswith(f"error: {source} is not an NDJSON file of CDRs: none of its {lines} lines is a "
                                    f"JSON object (first: {first}")


def test_price_cdrs_refuses_a_pretty_printed_cdr(capsys, tmp_path):
    source, out = tmp_path / "cdr.json", tmp_path / "priced.parquet"
    source.write_text(json.dumps(json.loads(CDR.read_text()), indent=2))
    code, _, err = run(capsys, "price-cdrs", "--cdrs", source, "--out", out)
    assert code == 2 and not out.exists() and "is not an NDJSON file of CDRs" in one_line(err)


def test_price_cdrs_keeps_rows_when_some_lines_are_cdrs(capsys, tmp_path):
    source, out = tmp_path / "cdrs.jsonl", tmp_path / "priced.jsonl"
    good = CDR_LINES.read_bytes().split(b"\n")[0]
    source.write_bytes(good + b"\nnot json\n\n" + good + b"\n")
    code, _, err = run(capsys, "price-cdrs", "--cdrs", source, "--out", out, "--timezone", "America/Toronto")
    assert code == 0 and one_line(err) == f"3 CDRs: 2 priced, 1 MALFORMED_CDR -> {out}\n"
    rows = [json.loads(line) for line in out.read_text().split("\n") if line]
    assert [(r["line"], r["error_code"]) for r in rows] == [(0, None), (1, "MALFORMED_CDR"), (2, None)]


@pytest.mark.parametrize(("name", "words"), [("missing.json", "CDR file not found"), ("empty-folder", "is a folder"),
                                             ("nested", "is a folder")])
def test_price_cdrs_refuses_a_missing_file_or_a_folder(capsys, odd, name, words):
    out = odd["empty-folder"].parent / "priced.parquet"
    code, _, err = run(capsys, "price-cdrs", "--cdrs", odd[name], "--out", out)
    assert code == 2 and words in one_line(err) and not out.exists()


def test_price_cdrs_refuses_an_unknown_output_format_before_reading(capsys, tmp_path):
    code, _, err = run(capsys, "price-cdrs", "--cdrs", tmp_path / "missing.jsonl", "--out", tmp_path / "priced.csv")
    assert code == 2 and one_line(err) == "error: --out must end in .parquet, .jsonl or .ndjson, got priced.csv\n"


def test_help_documents_the_exit_codes():
    from tariff_engine.cli import build_parser

    parser = build_parser()
    command = parser._subparsers._group_actions[0].choices["price-cdrs"]  # noqa: SLF001
    text = " ".join(command.format_help().split())
    assert "3 the file holds no CDRs (0 bytes or only blank lines)" in text and "--allow-empty" in text
    assert "2 bad input: the file is missing, a folder, unreadable gzip, or not NDJSON at all" in text
