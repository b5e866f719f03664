"""A deployment's program data (``PROGRAM_DATA_DIR``, CONTRACTS.md §3, SPEC.md §7 "after the
pilots"): versions and figures added without a code change; a contradiction refused at start."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.program_data import ProgramDataError
from models.programs import load_programs
from models.reference import ReferenceSource, load_reference, read_reference

REAL_KAR = {
    "region": "KAR",
    "effective_from": "2027-01-01",
    "price_group1_kzt_per_m3": "40.00",
    "price_group9_kzt_per_m3": "30.00",
    "norm_m3": "200",
    "price_source": "order: agreement of the regulator's Karaganda department (test)",
    "norm_source": "resolution of the akimat of Karaganda region of 12.06.2025 No. 32/01",
}


def _write(folder: Path, name: str, body: Any) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def _continuation(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(
        (EXAMPLE_PROGRAM_DATA / "programs" / "food.json").read_text(encoding="utf-8")
    )["versions"][0]
    return {**raw, **changes}


def test_a_deployment_adds_a_version_without_a_code_change(tmp_path: Path) -> None:
    """A continuation in PROGRAM_DATA_DIR/programs runs the months after the pilot."""
    _write(tmp_path, "programs/food.json", {"versions": [_continuation()]})
    book = load_programs(tmp_path)
    found = book.for_month("food", "2026-06")
    assert found is not None and found.version == "food-continuation"
    assert load_programs().for_month("food", "2026-06") is None


def test_a_deployment_sets_the_support_number_seed_004_leaves_blank(tmp_path: Path) -> None:
    """Seed 004's blank support number is filled by the deployment, naming only that field;
    the version can then text (SPEC.md §7)."""
    completion = {"program": "food", "version": "food-2025-12", "support_phone": "87182000000"}
    _write(tmp_path, "programs/numbers.json", {"versions": [completion]})
    found = load_programs(tmp_path).for_month("food", "2026-02")
    assert found is not None and found.configured
    assert "87182000000" in found.text("consent_request", "ru")
    assert found.effective_until == date(2026, 4, 30)  # everything else as published


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"version": "food-2025-12", "effective_until": "2026-05-31"}, "effective_until"),
        ({"version": "food-2025-06", "support_phone": "87000000000"}, "support_phone"),
        ({"version": "gas-2025-07", "list_cutoff_day": 20}, "list_cutoff_day"),
        ({"version": "gas-2025-07", "colour": "blue"}, "colour"),
    ],
)
def test_a_file_contradicting_a_published_version_is_refused_naming_file_and_field(
    tmp_path: Path, entry: dict[str, Any], field: str
) -> None:
    """CONTRACTS.md §3: a file that contradicts a shipped, published version is refused at
    start with a clear error, naming the file and the field."""
    file = _write(tmp_path, "programs/mine.json", {"versions": [entry]})
    with pytest.raises(ProgramDataError) as refused:
        load_programs(tmp_path)
    assert refused.value.file == file and refused.value.field == field
    assert str(file) in str(refused.value) and field in str(refused.value)


def test_a_version_overlapping_a_published_one_is_refused(tmp_path: Path) -> None:
    """A continuation starting before seed 004 ends would contradict it."""
    file = _write(
        tmp_path, "programs/food.json", {"versions": [_continuation(effective_from="2026-04-01")]}
    )
    with pytest.raises(ProgramDataError, match="overlaps food-2025-12") as refused:
        load_programs(tmp_path)
    assert (refused.value.file, refused.value.field) == (file, "effective_from")


def test_an_invalid_version_is_refused_naming_the_field(tmp_path: Path) -> None:
    """A version that does not validate names its file and the first bad field."""
    file = _write(tmp_path, "programs/food.json", {"versions": [_continuation(send_day=40)]})
    with pytest.raises(ProgramDataError) as refused:
        load_programs(tmp_path)
    assert (refused.value.file, refused.value.field) == (file, "send_day")


def test_a_ministry_adds_next_years_mrp(tmp_path: Path) -> None:
    """The README's recipe: mrp.json in PROGRAM_DATA_DIR with the budget law's figure."""
    law = {"year": 2027, "kzt": 4500, "source": "law: on the republican budget for 2027-2029"}
    _write(tmp_path, "mrp.json", {"mrp": [law]})
    assert read_reference(tmp_path).mrp(2027, allow_sample=False) == 4500
    assert read_reference(tmp_path).mrp(2026) == 4325


def test_a_contradicting_mrp_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    """The 2026 MRP is the budget law's: a deployment cannot change it."""
    file = _write(tmp_path, "mrp.json", {"mrp": [{"year": 2026, "kzt": 4400, "source": "law: x"}]})
    with pytest.raises(ProgramDataError, match="contradicts the published MRP 2026") as refused:
        read_reference(tmp_path)
    assert (refused.value.file, refused.value.field) == (file, "mrp[0].kzt")


def test_real_tariffs_replace_the_sample_ones(tmp_path: Path) -> None:
    """Real figures loaded for a region and date stand in for the sample row, and settle."""
    _write(
        tmp_path, "gas_tariffs.json", {"tariffs": [{**REAL_KAR, "effective_from": "2025-07-01"}]}
    )
    answer = read_reference(tmp_path).settleable_tariff("KAR", date(2027, 1, 1), allow_sample=False)
    assert answer.problem is None and answer.tariff is not None
    assert answer.tariff.price_group1_kzt_per_m3 == 40


def test_a_misnamed_file_is_refused_not_ignored(tmp_path: Path) -> None:
    """A figure in a file the product does not read would be silently missing."""
    file = _write(tmp_path, "mrps.json", {"mrp": []})
    with pytest.raises(ProgramDataError) as refused:
        read_reference(tmp_path)
    assert refused.value.file == file


def test_the_example_folder_loads() -> None:
    """examples/program-data, which make run and the tests load, is valid deployment data."""
    assert len(load_programs(EXAMPLE_PROGRAM_DATA).versions) == 5
    assert load_reference(EXAMPLE_PROGRAM_DATA).mrp(2027, allow_sample=True) == 4325


def test_figures_dropped_into_the_folder_reach_a_running_worker(tmp_path: Path) -> None:
    """The worker's reference source re-reads the folder when it changes: the cycles waiting
    for real tariffs (Attention=tariff_missing) find them without a restart."""
    shutil.copytree(EXAMPLE_PROGRAM_DATA, tmp_path / "data")
    source = ReferenceSource(tmp_path / "data")
    before = source.current().settleable_tariff("KAR", date(2027, 1, 1), allow_sample=False)
    assert before.problem == "sample"
    _write(tmp_path / "data", "gas_tariffs.json", {"tariffs": [REAL_KAR]})
    after = source.current().settleable_tariff("KAR", date(2027, 1, 1), allow_sample=False)
    assert after.problem is None
    _write(tmp_path / "data", "gas_tariffs.json", {"tariffs": "broken"})
    kept = source.current().settleable_tariff("KAR", date(2027, 1, 1), allow_sample=False)
    assert kept.problem is None  # a broken file keeps the figures last read
