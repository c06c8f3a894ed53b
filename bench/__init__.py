"""The outage-storm benchmark (issue 7): `make bench`, or `python -m bench.run --help`.

Pure parts (scenarios, timetables, payloads, statistics, matching, targets) are importable
without Django or psutil; the parts that touch processes and databases run in subprocesses
(`bench.setup`, `bench.dbcheck`, `bench.wsclients`, `bench.floor`, `bench.gateways`).
"""
