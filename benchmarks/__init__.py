"""Benchmarks of the README's performance section (``make bench``: ``python -m benchmarks``).

``benchmarks.cycles`` runs whole gas months under the time-skipping test server;
``benchmarks.intake`` measures listing and the SMS webhook, ``benchmarks.activation`` the wallet's
gas activation, both against a local dev server. Each compares the product with a baseline on the
same server in the same run (``benchmarks.trivial.Trivial``, a workflow that does nothing;
``benchmarks.echo.Echo``, an update that answers at once), so the figures say what the product
costs over Temporal itself on this machine. ``python -m benchmarks`` runs them all, on SQLite and
on a throwaway PostgreSQL, and prints issue 13's targets with their ratios
(``benchmarks.suite``); ``python -m benchmarks.billable`` turns recorded histories into the
million-citizen month's load (docs/DEPLOYMENT.md).

The package itself imports nothing: the workflow sandbox imports it with the baselines'
workflows (``benchmarks.trivial``, ``benchmarks.echo``). Shared helpers are in
``benchmarks.common``.
"""
