"""Measuring kbot: the gold question set, the baseline, the metrics, the report and the threshold gate."""
