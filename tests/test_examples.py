"""The example notebook runs top to bottom, offline, with the shipped mini model."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import soundfile as sf
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "mini_model_tour.ipynb"


def _text(nb) -> str:
    return "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )


@pytest.mark.slow
def test_mini_notebook_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("RIFFGEN_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # robust on a busy 2-core box (about 60 s)
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError with the failing cell on any error
    text = _text(nb)
    assert "same seed, same audio: True" in text
    assert "another seed differs: True" in text
    assert "untouched part identical: True" in text
    assert "prompt set" in text and "heldout_combo" in text
    out = tmp_path / "out"
    for name in ("drums", "violin", "demo_as_organ", "drums_with_sax", "interpolate_0.5"):
        info = sf.info(str(out / f"{name}.wav"))
        assert abs(info.duration - 5.11) < 0.05, (name, info.duration)
        assert (out / f"{name}.png").is_file()
