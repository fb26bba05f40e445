"""Simulation: a campaign or program replayed over the last N days of real orders through the
real engine (``replay``: discount campaigns; ``loyalty.simulation``: programs), run inline or as
a task with progress (``runs``), read back for the API and the console (``selectors``)."""
