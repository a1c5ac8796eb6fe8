"""The cpu and gpu tiers of a submission make one record and one CSV row: a gpu-tier run into a folder
holding the cpu tier grades only the gpu checks, and a forced rerun of a tier replaces that tier's tests.

A grading.yml copy keeps three cheap checks and moves one of them to the gpu tier (it needs no CUDA),
so that both tiers run here in seconds."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from autograder import config, samples
from autograder.grade import Options, grade_many
from autograder.submissions import Submission

CPU_CHECKS = ("test_manual.py::test_init_params", "test_manual.py::test_forward")
GPU_CHECK = "test_manual.py::test_softmax_stable"


@pytest.fixture(scope="module")
def two_tiers(tmp_path_factory):
    """grading.yml where GPU_CHECK is a gpu-tier check."""
    raw = yaml.safe_load((config.ROOT / "grading.yml").read_text(encoding="utf-8"))
    for check in raw["assignments"]["tp1_mlp"]["checks"]:
        if check["id"] == GPU_CHECK:
            check["tier"] = "gpu"
    path = tmp_path_factory.mktemp("grading") / "grading.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_gpu_tier_merges_into_the_cpu_record_and_a_rerun_replaces_only_its_tier(two_tiers, tmp_path):
    entry = [Submission("alice", samples.reference_copy("tp1_mlp", tmp_path / "alice"), "tp1_mlp")]
    out = tmp_path / "out"
    cpu = grade_many(entry, out, Options(tier="cpu", only=CPU_CHECKS, grading_path=two_tiers), quiet=True)["alice"]
    assert [t["name"] for t in cpu["tests"]] == list(CPU_CHECKS) and cpu["score"] == 3
    graded_once = {t["name"]: t["execution_time"] for t in cpu["tests"]}
    both = Options(tier="gpu", only=(*CPU_CHECKS, GPU_CHECK), grading_path=two_tiers)
    merged = grade_many(entry, out, both, quiet=True)["alice"]
    assert [t["name"] for t in merged["tests"]] == [CPU_CHECKS[0], CPU_CHECKS[1], GPU_CHECK]  # grading.yml order
    assert {t["name"]: t["extra_data"]["tier"] for t in merged["tests"]} == {**dict.fromkeys(CPU_CHECKS, "cpu"),
                                                                             GPU_CHECK: "gpu"}
    assert {t["name"]: t["execution_time"] for t in merged["tests"] if t["name"] in CPU_CHECKS} == graded_once
    assert merged["score"] == merged["extra_data"]["max_score"] == 4 and merged["extra_data"]["tier"] == "gpu"
    assert merged["output"].startswith("RDFIA 1-ab") and "4 / 4 (gpu tier)" in merged["output"]
    assert json.loads((out / "alice" / "results.json").read_text()) == merged
    with open(out / "grades.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["score"] == "4" and rows[0][GPU_CHECK] == "1" and rows[0][CPU_CHECKS[0]] == "1"
    assert grade_many(entry, out, both, quiet=True)["alice"] == merged  # nothing left to grade

    on_disk = json.loads((out / "alice" / "results.json").read_text())
    for test in on_disk["tests"]:
        test["output"] = f"old {test['extra_data']['tier']}"
    (out / "alice" / "results.json").write_text(json.dumps(on_disk))
    rerun = grade_many(entry, out, Options(tier="cpu", only=CPU_CHECKS, grading_path=two_tiers), force=True,
                       quiet=True)["alice"]
    assert {t["name"]: t["output"] for t in rerun["tests"]} == {**dict.fromkeys(CPU_CHECKS, ""), GPU_CHECK: "old gpu"}
    assert rerun["score"] == 4 and rerun["extra_data"]["tier"] == "gpu"
