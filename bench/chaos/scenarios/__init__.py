"""The scenarios, one module each; each takes its :class:`~bench.chaos.run.Config` and returns a
:class:`~bench.chaos.common.Result` audited on a deployment of its own."""
