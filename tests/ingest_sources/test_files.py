"""The files source: incremental reads, resume from a checkpoint, config errors, real data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from wattlens.config import ConfigError, parse_config
from wattlens.ingest.base import Batch, build_source
from wattlens.ingest.sources.files import FilesSource
from wattlens.store.schema import validate_readings

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cambridge"


def make_source(root: Path, **options) -> FilesSource:
    table = {"name": "exports", "type": "files", "root": str(root), "glob": "*.csv",
             "time_column": "time", "columns": {"kwh": {"meter": "m1"}}, **options}
    config = parse_config({"sources": [table]})
    source = build_source(config.sources[0], config.ingest_context())
    assert isinstance(source, FilesSource)
    return source


def readings_of(batches: list[Batch]) -> pd.DataFrame:
    return validate_readings(pd.concat([Batch().readings, *(b.readings for b in batches)],
                                       ignore_index=True))


def write_rows(path: Path, start: int, stop: int, header: bool = True) -> None:
    times = pd.date_range("2024-01-01", periods=stop, freq="h", tz="UTC")[start:]
    lines = [f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{i}.5" for i, t in enumerate(times, start)]
    with path.open("a") as handle:
        if header:
            handle.write("time,kwh\n")
        handle.write("\n".join(lines) + "\n")


def test_incremental_reads_only_new_files_and_appended_rows(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 10)
    source = make_source(tmp_path)
    first = list(source.fetch(None))
    checkpoint = json.loads(json.dumps(first[-1].checkpoint))  # JSON-able
    assert len(readings_of(first)) == 10
    assert list(source.fetch(checkpoint)) == []  # nothing new
    write_rows(tmp_path / "a.csv", 10, 14, header=False)  # appended rows
    write_rows(tmp_path / "b.csv", 0, 3)  # a new file
    second = list(source.fetch(checkpoint))
    new = readings_of(second)
    assert len(new) == 4 + 3
    assert new["value"].min() == 0.5 and sorted(new["value"])[-4:] == [10.5, 11.5, 12.5, 13.5]
    assert list(source.fetch(second[-1].checkpoint)) == []


def test_rewritten_smaller_file_is_read_again(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 10)
    source = make_source(tmp_path)
    checkpoint = list(source.fetch(None))[-1].checkpoint
    (tmp_path / "a.csv").unlink()
    write_rows(tmp_path / "a.csv", 0, 2)
    assert len(readings_of(list(source.fetch(checkpoint)))) == 2


def test_resume_mid_file_from_any_batch_checkpoint_loses_and_repeats_nothing(
        tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 5000)
    with (tmp_path / "a.csv").open("a") as handle:
        handle.write("2024-12-01T00:00:00Z,1,extra\n")  # a malformed row late in the file
    write_rows(tmp_path / "b.csv", 5000, 5700)
    source = make_source(tmp_path, chunk_rows=500)
    batches = list(source.fetch(None))
    assert len(batches) > 4
    everything = readings_of(batches)
    assert len(everything) == 5700
    for cut in range(len(batches)):  # crash after batch `cut` was stored
        before = batches[: cut + 1]
        after = list(source.fetch(batches[cut].checkpoint))
        combined = pd.concat([readings_of(before), readings_of(after)], ignore_index=True)
        assert not combined.duplicated(["meter", "time"]).any()
        assert len(combined) == 5700
    rejected = [r for b in batches for r in b.rejected]
    assert len(rejected) == 1 and "line 5002:" in rejected[0].record


def test_trailing_bad_rows_are_reported(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 3)
    with (tmp_path / "a.csv").open("a") as handle:
        handle.write("2024-12-01T00:00:00Z\n2024-12-01T01:00:00Z,1,2\n")
    batches = list(make_source(tmp_path).fetch(None))
    assert len(readings_of(batches)) == 3
    assert [r.record.split(":")[1] for b in batches for r in b.rejected] == [" line 5", " line 6"]
    assert batches[-1].checkpoint["files"]["a.csv"]["rows"] == 5


def test_registers_carry_their_baseline_across_chunks_and_files(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC")
    values = [100.0 + 2 * i for i in range(300)]
    frame = pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "kwh": values})
    frame.iloc[:150].to_csv(tmp_path / "1.csv", index=False)
    frame.iloc[150:].to_csv(tmp_path / "2.csv", index=False)
    source = make_source(tmp_path, chunk_rows=40,
                         columns={"kwh": {"meter": "r", "kind": "register"}})
    readings = readings_of(list(source.fetch(None)))
    assert len(readings) == 299 and (readings["value"] == 2.0).all()
    assert (readings["quality"] == "ok").all()


def test_start_end_restrict_a_backfill(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 48)
    source = make_source(tmp_path)
    start, end = pd.Timestamp("2024-01-01T10:00Z"), pd.Timestamp("2024-01-01T20:00Z")
    readings = readings_of(list(source.fetch(None, start, end)))
    assert readings["time"].min() == start and readings["time"].max() == end - pd.Timedelta("1h")


def test_a_file_missing_a_mapped_column_is_rejected_others_kept(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 3)
    (tmp_path / "b.csv").write_text("time,kWh_typo\n2024-01-01T00:00:00Z,1\n")
    batches = list(make_source(tmp_path).fetch(None))
    assert len(readings_of(batches)) == 3
    (rejected,) = [r for b in batches for r in b.rejected]
    assert "b.csv" in rejected.record and "['kwh'] not in the file" in rejected.reason


@pytest.mark.parametrize(
    ("options", "message"),
    [({"columns": {"kwh": {"meter": "m1", "unit": "kwhh"}}}, "unit 'kwhh' is not known"),
     ({"columns": {"kwh": {"meter": "m1", "unit": "kW", "kind": "register"}}},
      "kind = 'register' needs a unit of energy"),
     ({"colums": {}}, "option 'colums' is not known to type 'files'"),
     ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not an IANA timezone"),
     ({"glob": None, "columns": {}}, "give either preset = 'cambridge', or glob"),
     ({"type": "nope"}, "unknown source type 'nope'; choose one of"),
     ({"interval": "often"}, "'often' is not a duration")],
)
def test_config_errors_name_the_key_value_and_fix(tmp_path: Path, options: dict,
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_source(tmp_path, **options)
    assert message in str(err.value)
    assert "sources[0]" in str(err.value)


def test_missing_root_is_misuse(tmp_path: Path) -> None:
    source = make_source(tmp_path / "absent")
    with pytest.raises(ValueError, match="is not a folder"):
        list(source.fetch(None))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/cambridge is not present")
def test_cambridge_preset_reads_a_real_building_year_exactly() -> None:
    source = FilesSource("cam", FilesSource.Options(root=SHARED, preset="cambridge"))
    path = SHARED / "buildings" / "UCam_Building_b2" / "electricity" / "2019.csv"
    source.specs = [dataclasses.replace(s, glob="buildings/UCam_Building_b2/electricity/2019.csv")
                    for s in source.specs if "electricity" in s.glob]
    readings = readings_of(list(source.fetch(None)))
    raw = pd.read_csv(path)
    raw = raw[raw.iloc[:, 1] != 0]
    assert len(readings) == len(raw) > 8000
    assert set(readings["meter"]) == {"b2-elec"}
    assert readings["value"].sum() == pytest.approx(raw.iloc[:, 1].sum())
    assert readings["time"].iloc[0] == pd.Timestamp(raw.iloc[0, 0], tz="UTC")


def test_source_section_round_trips_through_json(tmp_path: Path) -> None:
    from wattlens.ingest.base import SourceSection

    source = make_source(tmp_path, interval="15min", missing_zero=True)
    config = parse_config({"sources": [{"name": "exports", "type": "files", "root": str(tmp_path),
                                        "glob": "*.csv", "interval": "15min",
                                        "missing_zero": True,
                                        "columns": {"kwh": {"meter": "m1"}}}]})
    section = config.sources[0]
    dumped = json.loads(json.dumps(section.model_dump(mode="json")))
    assert dumped["options"]["missing_zero"] is True
    assert SourceSection.model_validate(dumped) == section
    assert source.options == section.options


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "a.csv.gz", "wt") as handle:
        handle.write("time,kwh\n2024-01-01T00:00:00Z,1.5\n2024-01-01T01:00:00Z,2.5\n")
    readings = readings_of(list(make_source(tmp_path, glob="*.csv.gz").fetch(None)))
    assert readings["value"].tolist() == [1.5, 2.5]


def test_cambridge_backfill_window_reads_only_the_years_it_needs() -> None:
    case = Path(__file__).resolve().parents[1] / "data" / "files" / "cambridge_preset"
    source = FilesSource("cam", FilesSource.Options(root=case, preset="cambridge"))
    window = (pd.Timestamp("2019-12-31T23:00Z"), pd.Timestamp("2020-01-01T01:00Z"))
    batches = list(source.fetch(None, *window))
    assert set(batches[-1].checkpoint["files"]) == {
        "buildings/UCam_Building_b7/electricity/2019.csv",
        "buildings/UCam_Building_b7/electricity/2020.csv",
        "buildings/UCam_Building_b7/gas/2020.csv", "weather/bedford/2020.csv"}
    only_2019 = list(source.fetch(None, pd.Timestamp("2019-06-01T00:00Z"),
                                  pd.Timestamp("2020-01-01T00:00Z")))
    assert set(only_2019[-1].checkpoint["files"]) == {
        "buildings/UCam_Building_b7/electricity/2019.csv"}
    assert readings_of(only_2019)["value"].tolist() == [10.5]


@pytest.mark.parametrize("ext", ["parquet", "xlsx"])
def test_parquet_and_excel_resume_from_a_mid_file_checkpoint(tmp_path: Path, ext: str) -> None:
    times = pd.date_range("2024-01-01", periods=2500, freq="h", tz="UTC")
    frame = pd.DataFrame({"time": times, "kwh": [float(i) for i in range(2500)]})
    if ext == "parquet":
        frame.to_parquet(tmp_path / "a.parquet", index=False)
    else:
        frame.assign(time=times.tz_localize(None)).to_excel(tmp_path / "a.xlsx", index=False)
    source = make_source(tmp_path, glob=f"*.{ext}", chunk_rows=1000)
    batches = list(source.fetch(None))
    assert len(readings_of(batches)) == 2500
    first = batches[0]
    assert first.checkpoint["files"][f"a.{ext}"]["rows"] == 1000
    rest = readings_of(list(source.fetch(first.checkpoint)))
    assert rest["value"].tolist() == [float(i) for i in range(1000, 2500)]


def test_bad_bytes_and_out_of_range_times_cost_only_their_rows(tmp_path: Path) -> None:
    """Issue #13 item 2: per-file and per-row isolation, rejects named by file and line."""
    write_rows(tmp_path / "a.csv", 0, 5)
    with (tmp_path / "a.csv").open("ab") as handle:  # line 7: a Latin-1 byte in the value
        handle.write(b"2024-01-01T05:00:00Z,1\xb55\n2024-01-01T06:00:00Z,6.5\n")
    (tmp_path / "b.csv").write_text(
        "time,kwh\n2024-02-01T00:00:00Z,1\n9999-12-31T00:00:00Z,2\n1500-01-01 00:00,3\n"
        "2024-02-01T01:00:00Z,4\n")
    write_rows(tmp_path / "c.csv", 100, 103)
    (tmp_path / "d.csv").write_bytes(b"\x1f\x8b\x08not gzip at all")  # unreadable whole file
    source = make_source(tmp_path)
    batches = list(source.fetch(None))
    stored = readings_of(batches)
    assert len(stored) == 6 + 2 + 3
    assert 4.0 in set(stored["value"]) and 6.5 in set(stored["value"])
    rejected = {r.record.split(": ")[0] + ":" + r.record.split(": ")[1].split(":")[0]
                for b in batches for r in b.rejected}
    assert {"a.csv:line 7", "b.csv:line 3", "b.csv:line 4"} <= rejected, rejected
    reasons = " | ".join(r.reason for b in batches for r in b.rejected)
    assert "not UTF-8" in reasons and "outside the range" in reasons
    # the checkpoint moves past the bad rows: nothing is read twice or raised again
    assert list(source.fetch(batches[-1].checkpoint)) == []


def test_an_unreadable_file_is_quarantined_and_the_others_read(tmp_path: Path) -> None:
    write_rows(tmp_path / "a.csv", 0, 3)
    (tmp_path / "b.csv.gz").write_bytes(b"\x1f\x8b\x08not gzip at all")
    write_rows(tmp_path / "c.csv", 10, 12)
    source = make_source(tmp_path, glob="*.csv*")
    batches = list(source.fetch(None))
    assert len(readings_of(batches)) == 5
    [bad] = [r for b in batches for r in b.rejected]
    assert bad.record.startswith("b.csv.gz: (whole file)") and "re-export" in bad.reason
    assert list(source.fetch(batches[-1].checkpoint)) == []  # not retried until it changes


@pytest.mark.parametrize("change", ["same size", "larger"])
def test_a_rewritten_export_is_read_again_and_corrections_overwrite(tmp_path: Path,
                                                                    change: str) -> None:
    """Issue #13 item 3: a rewrite of the same or larger size is detected (head hash)."""
    write_rows(tmp_path / "a.csv", 0, 10)
    source = make_source(tmp_path)
    checkpoint = list(source.fetch(None))[-1].checkpoint
    text = (tmp_path / "a.csv").read_text().replace(",3.5\n", ",9.5\n")  # a corrected value
    if change == "larger":
        text += "2024-01-01T10:00:00Z,10.5\n"
    (tmp_path / "a.csv").write_text(text)
    again = readings_of(list(source.fetch(checkpoint)))
    assert len(again) == (10 if change == "same size" else 11)
    assert again.set_index("time")["value"][pd.Timestamp("2024-01-01T03:00Z")] == 9.5


def test_unchanged_files_are_not_read_again(tmp_path: Path, monkeypatch) -> None:
    """Polling a folder of big exports must not re-read (or re-hash) files that did not
    change: only size and mtime are looked at."""
    write_rows(tmp_path / "a.csv", 0, 10)
    source = make_source(tmp_path)
    checkpoint = list(source.fetch(None))[-1].checkpoint
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    assert list(source.fetch(checkpoint)) == []
    assert not [p for p in opened if p.endswith("a.csv")]
