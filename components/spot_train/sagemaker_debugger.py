"""spot_train's stop-rules as SageMaker Debugger rules, for accounts that still have Debugger.

The stop-rules always run inside the training container (the step's `rules` param), because SageMaker Debugger
is closed to new customers; the job itself is the backend's (greenpipe.backends.sagemaker_training_job, or a
compiled pipeline). Accounts that still have Debugger can add these members to the request: the Debugger-named
rules with only the parameters Debugger knows. StalledTrainingRule gets an explicit training_job_name_prefix,
since the SDK's default bakes a timestamp into it and every recompile would then differ.
"""

from __future__ import annotations

import json
from typing import Any

from greenpipe.components.spot_train.rules import parse_rules

DEBUGGER_RULES = (
    "LossNotDecreasing",
    "Overfit",
    "Overtraining",
    "StalledTrainingRule",
    "ExplodingTensor",
    "VanishingGradient",
)


def debugger_members(
    rules: list | dict | None, rule_image: str, job_name_prefix: str, output_s3: str
) -> dict[str, Any]:
    """DebugHookConfig and DebugRuleConfigurations for the Debugger-named rules among `rules` (as the step's
    `rules` param takes them); empty when there are none.

    Args:
        rule_image: the region's Debugger rule evaluator image.
        job_name_prefix: the job's name prefix (StalledTrainingRule's training_job_name_prefix).
        output_s3: the job's output path; the hook writes under `debug-output/` there.
    """
    debugger = [r for r in parse_rules(rules) if r.name in DEBUGGER_RULES]
    if not debugger:
        return {}
    return {
        "DebugHookConfig": {
            "S3OutputPath": output_s3.rstrip("/") + "/debug-output",
            "CollectionConfigurations": [{"CollectionName": "losses", "CollectionParameters": {"save_interval": "1"}}],
        },
        "DebugRuleConfigurations": [_debug_rule(r, rule_image, job_name_prefix) for r in debugger],
    }


def _debug_rule(rule: Any, image: str, prefix: str) -> dict[str, Any]:
    params = {k: v for k, v in rule.params().items() if v is not None and k not in rule.greenpipe_only}
    if rule.name == "StalledTrainingRule":
        params["training_job_name_prefix"] = prefix  # explicit: the SDK's default carries a timestamp
    text = {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in params.items()}
    return {
        "RuleConfigurationName": rule.name,
        "RuleEvaluatorImage": image,
        "RuleParameters": {"rule_to_invoke": rule.name, **text},
    }
