"""Saved-model file names (issue #13 item 6): one file per meter, whatever its id."""

from __future__ import annotations

from pathlib import Path

from wattlens.forecasting.jobs import model_path


def test_meter_ids_that_differ_only_in_punctuation_get_their_own_files(tmp_path: Path) -> None:
    ids = ["plug 1", "plug/1", "plug_1", "plug:1", "plug%201", "Plug 1", "..", "b1-elec"]
    paths = [model_path(tmp_path, meter, "prophet") for meter in ids]
    assert len({p.name.lower() for p in paths}) == len(ids)  # also on case-blind disks
    for path in paths:
        assert path.parent == tmp_path / "models"  # never a path outside the models folder
        assert "/" not in path.name and "\\" not in path.name and not path.name.startswith(".")
    assert paths[-1].name == "b1-elec.prophet.json"  # plain ids keep their readable name
