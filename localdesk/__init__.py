"""Local helpdesks for the demo, the tests and the benchmarks: Zendesk- and Zammad-compatible HTTP
servers (``tiergate.localdesk.zendesk``, ``tiergate.localdesk.zammad``) that keep everything in
memory and deliver signed webhooks like the real desks."""
