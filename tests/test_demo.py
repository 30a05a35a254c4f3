"""``python -m fastconv demo`` writes the gallery and one timing line per filter."""

import sys

from fastconv.__main__ import main
from fastconv.demo import GALLERY, run


def test_demo_writes_gallery_and_times_every_filter(tmp_path, capsys):
    out = tmp_path / "gallery.png"
    assert run(str(out), repeat=1, time_size=256) == 0  # a small timing image keeps the test quick
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = capsys.readouterr().out.splitlines()
    timed = [title for title, _, _ in GALLERY[1:]]
    assert [line[:24].strip() for line in lines[2 : 2 + len(timed)]] == timed


def test_demo_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "skimage", None)
    assert main(["demo", "--out", "unused.png"]) == 1
    assert "pip install scikit-image matplotlib" in capsys.readouterr().err
