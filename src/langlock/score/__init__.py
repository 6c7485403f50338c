"""Scoring completions: read benchmark/JSONL/lm-eval files, judge each completion with a detector
profile, aggregate with the benchmark's averaging rules, and write results."""
