import io
import json
import logging

import pytest

from wx_utils import __version__
from wx_utils.cli import main
from wx_utils.logs import setup_logging
from wx_utils.metadata import make_header, write_metadata
from wx_utils.progress import progress


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wx-utils {__version__}"


def test_provenance_command_prints_json(capsys):
    assert main(["provenance"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "wx-utils" in record["wx"]


def test_inspect_prints_header(tmp_path, capsys):
    header = make_header(format_name="wx-graph", format_version=2, provenance={"x": 1}, nodes=3)
    write_metadata(tmp_path / "g.json", header)
    assert main(["inspect", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert "wx-graph (format version 2)" in out and "nodes: 3" in out
    assert main(["inspect", "--json", str(tmp_path / "g.json")]) == 0
    assert json.loads(capsys.readouterr().out) == header


def test_inspect_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "wx-utils: error:" in err and "nope.safetensors" in err and "Traceback" not in err


def test_setup_logging_levels():
    stream = io.StringIO()
    setup_logging("warning", stream=stream)
    logging.getLogger("wx.test").info("hidden")
    logging.getLogger("wx.test").warning("shown")
    assert "shown" in stream.getvalue() and "hidden" not in stream.getvalue()
    with pytest.raises(ValueError, match="log level"):
        setup_logging("loud")
    setup_logging("INFO")


def test_progress_counts_and_reports_rate(capsys, monkeypatch):
    monkeypatch.setenv("WX_PROGRESS", "1")
    assert list(progress(range(5), description="work", unit="date")) == [0, 1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "work" in err and "5/5" in err and "date/s" in err
    monkeypatch.setenv("WX_PROGRESS", "0")
    assert sum(progress(range(3))) == 3
    assert capsys.readouterr().err == ""
