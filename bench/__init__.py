"""Benchmarks of Relais (`make bench`, i.e. `python -m bench`): figures printed, never asserted.

Each run starts its own in-memory DynamoDB Local (moto_server without Java, and says so),
measures every section side by side (ratios and rates, medians), prints one table, writes
bench/results.json, and stops everything it started. README's "Benchmarks" says what each
figure means and its goal.
"""
