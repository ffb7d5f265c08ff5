"""What the benchmark scripts share: processes and CPU metering, the Procfile stack, signed load, phases, reports.

Nothing in this package imports the bot: the scripts run it from the current checkout while the stack they
start runs the code under test, the working tree or a `git archive` of another commit (snapshot.use_snapshot).
"""
