"""The worker's plan (:class:`autograder.sandbox.plan.Plan`): what the worker handle sends is what the worker
applies, and anything else is refused before confinement starts. (Milliseconds.)"""

import json

import pytest

from autograder.sandbox.plan import Plan

PLAN = Plan(box="/tmp/w/box", uid=2**30 + 7, namespaces=True, root="/tmp/w/root", system=("/usr", "/bin"),
            keep=("/opt/venv",), hide=("/srv/kit",), scratch=("/tmp", "/dev/shm"), scratch_mb=1024,
            rlimits={"RLIMIT_NPROC": 512, "RLIMIT_AS": -1}, cgroups=())


def test_a_plan_arrives_as_it_was_sent():
    assert Plan.from_json(PLAN.to_json()) == PLAN


@pytest.mark.parametrize("change", [{"uid": "0"}, {"namespaces": 1}, {"scratch_mb": True}, {"hide": "/srv/kit"},
                                    {"keep": [3]}, {"rlimits": {"RLIMIT_AS": 1.5}}, {"rlimits": {"AS": 1}},
                                    {"extra": 1}])
def test_a_plan_of_other_fields_or_types_is_refused(change):
    raw = {**json.loads(PLAN.to_json()), **change}
    with pytest.raises(ValueError, match="worker plan"):
        Plan.from_json(json.dumps(raw))
    raw.pop("root")
    with pytest.raises(ValueError, match="worker plan"):
        Plan.from_json(json.dumps(raw))
