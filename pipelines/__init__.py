"""Reference pipelines built from greenpipe components: `greenpipe run train`, `greenpipe run retrain`."""

REFERENCE_PIPELINES = {
    "train": "greenpipe.pipelines.train:train",
    "retrain": "greenpipe.pipelines.retrain:retrain",
}
