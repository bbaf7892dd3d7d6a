"""A choice param (`Literal[...]`): refused before a run when the value is not a choice, listed in the spec and
the catalog, carried to SageMaker as EnumValues and to KFP as a plain string."""

import json
from typing import Literal

import pytest

from greenpipe import Dataset, Output, pipeline, step
from greenpipe.errors import ParamError, SpecError
from greenpipe.params import coerce


@step
def smooth(
    data: Dataset,
    out: Output[Dataset],
    method: Literal["mean", "median"] = "median",
    window: Literal[3, 5, 7] = 5,
) -> None:
    """Smooth a series.

    Args:
        data: the series.
        out: written: the smoothed series.
        method: how each window is summarised.
        window: the window's length.
    """


@pipeline(name="smoothing")
def smoothing(data: Dataset, method: Literal["mean", "median"] = "mean") -> None:
    smooth(data=data, method=method)


def test_a_value_outside_the_choices_names_them():
    with pytest.raises(ParamError, match=r"method='mode' is not one of its choices: pass one of 'mean', 'median'"):
        coerce("method", Literal["mean", "median"], "mode")
    assert coerce("window", Literal[3, 5, 7], "7", from_text=True) == 7
    with pytest.raises(ParamError, match="window=4 is not one of its choices"):
        coerce("window", Literal[3, 5, 7], 4)


def test_a_wrong_choice_fails_when_the_pipeline_is_built():
    with pytest.raises((ParamError, SpecError), match="mode"):

        @pipeline(name="bad")
        def bad(data: Dataset) -> None:
            smooth(data=data, method="mode")

        bad.build()


def test_the_spec_lists_the_choices_and_the_docstring_describes_each_param():
    params = {p["name"]: p for p in smooth.spec.to_dict()["params"]}
    assert params["method"]["choices"] == ["mean", "median"] and params["window"]["choices"] == [3, 5, 7]
    assert params["method"]["description"] == "how each window is summarised."
    inputs = {a["name"]: a for a in smooth.spec.to_dict()["inputs"]}
    assert inputs["data"]["description"] == "the series."


def test_sagemaker_parameters_carry_the_choices_as_enum_values():
    from greenpipe.backends.sagemaker import compile_definition

    definition = json.loads(
        compile_definition(smoothing, role_arn="arn:aws:iam::123456789012:role/greenpipe", bucket="my-bucket")
    )
    method = next(p for p in definition["Parameters"] if p["Name"] == "method")
    assert method == {"Name": "method", "Type": "String", "EnumValues": ["mean", "median"], "DefaultValue": "mean"}


def test_kfp_passes_a_choice_as_its_value_type(tmp_path):
    pytest.importorskip("kfp")
    import yaml

    from greenpipe.backends.kfp import compile_pipeline

    data = tmp_path / "series.csv"
    data.write_text("x\n1\n")
    out = tmp_path / "smoothing.yaml"
    compile_pipeline(smoothing, out, {"data": str(data)})
    spec = yaml.safe_load(out.read_text())
    assert spec["root"]["inputDefinitions"]["parameters"]["method"]["parameterType"] == "STRING"
