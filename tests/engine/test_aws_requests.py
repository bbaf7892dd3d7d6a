"""The one validator of generated AWS requests reports every problem, the first one too."""

from __future__ import annotations


def test_a_request_with_one_type_error_is_reported():
    from greenpipe.aws_requests import request_problems

    problems = request_problems("CreateTrainingJob", {"TrainingJobName": 5})  # wrong type and missing members
    assert any("TrainingJobName" in p and "type" in p for p in problems), problems
    single = request_problems("DeleteModel", {"ModelName": 7})  # exactly one problem: a type error
    assert len(single) == 1 and "ModelName" in single[0]
