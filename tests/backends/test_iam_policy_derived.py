"""`greenpipe iam-policy` grants what the compiled definition starts, in the role's account, nothing more."""

from __future__ import annotations

import json


def test_train_policy_has_no_tuning_actions_when_tuning_compiles_to_one_training_job(cli):
    proc = cli("iam-policy", "train", "--role", "arn:aws:iam::123456789012:role/gp", "--bucket", "b")
    policy = json.loads(proc.stdout)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    # train's bayes_tune takes its estimator from small_sample at run time, so it compiles to a Training job
    assert "sagemaker:CreateTrainingJob" in actions
    assert not any("HyperParameterTuningJob" in a for a in actions)
    sagemaker_arns = [r for s in policy["Statement"] for r in s["Resource"] if r.startswith("arn:aws:sagemaker")]
    assert sagemaker_arns and all(":123456789012:" in r for r in sagemaker_arns)
