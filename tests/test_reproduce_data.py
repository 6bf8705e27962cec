"""The CICIoV2024 loader on the real files (published counts) and on zips shaped like the published one."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest
from support.real_data import real_dataset
from support.trainer_data import write_cic_folder

from trainer.config import DataConfig
from trainer.data import DataError, load_dataset

PUBLISHED = {"BENIGN": 1_223_737, "DoS": 74_663, "GAS": 9_991, "RPM": 54_900, "SPEED": 24_951,
             "STEERING_WHEEL": 19_977}


@pytest.mark.slow
def test_real_ciciov2024_every_file_with_the_published_counts() -> None:
    folder = real_dataset("ciciov2024")
    ds = load_dataset("ciciov2024", folder, DataConfig())
    assert dict(Counter(ds.labels.tolist())) == PUBLISHED
    assert ds.report.rows_read == sum(PUBLISHED.values()) == 1_408_219
    assert any(f.endswith("decimal_benign.csv.zip") for f in ds.report.files)
    assert Counter(ds.groups.tolist())["decimal_benign.csv.zip"] == PUBLISHED["BENIGN"]


def _zip_benign(folder: Path) -> Path:
    """Zip the benign CSV as the publisher did: the CSV plus a macOS ``__MACOSX/._`` entry."""
    csv_path = folder / "decimal_benign.csv"
    zpath = folder / "decimal_benign.csv.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(csv_path, "decimal_benign.csv")
        zf.writestr("__MACOSX/._decimal_benign.csv", b"\x00\x05\x16\x07 resource fork")
    csv_path.unlink()
    return zpath


def test_zipped_csv_with_macosx_entry_reads_like_the_csv(tmp_path: Path) -> None:
    plain = load_dataset("ciciov2024", write_cic_folder(tmp_path / "a", 50), DataConfig())
    folder = write_cic_folder(tmp_path / "b", 50)
    _zip_benign(folder)
    zipped = load_dataset("ciciov2024", folder, DataConfig())
    assert Counter(zipped.labels.tolist()) == Counter(plain.labels.tolist())
    assert zipped.frame.sort_values(list(zipped.frame.columns)).to_numpy().tolist() == \
        plain.frame.sort_values(list(plain.frame.columns)).to_numpy().tolist()


def test_zip_beside_its_unzipped_csv_is_read_once(tmp_path: Path) -> None:
    folder = write_cic_folder(tmp_path, 50)
    with zipfile.ZipFile(folder / "decimal_benign.csv.zip", "w") as zf:
        zf.write(folder / "decimal_benign.csv", "decimal_benign.csv")
    ds = load_dataset("ciciov2024", folder, DataConfig())
    assert Counter(ds.labels.tolist())["BENIGN"] == 50


def test_zip_without_a_csv_names_the_file(tmp_path: Path) -> None:
    folder = write_cic_folder(tmp_path, 20)
    with zipfile.ZipFile(folder / "extra.zip", "w") as zf:
        zf.writestr("__MACOSX/._x.csv", b"")
    with pytest.raises(DataError, match=r"extra\.zip: expected one CSV inside the zip, found 0"):
        load_dataset("ciciov2024", folder, DataConfig())
    (folder / "extra.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"extra\.zip: not a readable zip"):
        load_dataset("ciciov2024", folder, DataConfig())
