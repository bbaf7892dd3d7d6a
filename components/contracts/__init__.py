"""What the components agree on, written once: the model folder, the metric registry, the estimator table and
the great_expectations bootstrap.

Components import these modules instead of repeating a file name, a metric's direction or an estimator's class
name. The package imports only the engine (greenpipe.errors, greenpipe.artifacts); sklearn, pandas and
great_expectations are imported inside the functions that use them, so importing a contract stays cheap.
"""
