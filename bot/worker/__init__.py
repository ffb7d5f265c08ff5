"""Background work: RQ job entry points, reply runs, the worker process and the clock.

`python -m bot.worker` runs a worker (the Procfile's `worker:`); `python -m bot.worker.clock` the clock."""
