"""bayes_tune component."""
