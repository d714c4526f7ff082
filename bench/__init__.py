"""Benchmarks of Relais (`make bench`, i.e. `python -m bench`): figures printed, never asserted.

Each run starts its own in-memory DynamoDB Local (moto_server without Java, and says so),
measures, prints one table, and stops it.
"""
