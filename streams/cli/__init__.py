"""The `crmkpi` command line: one module per command."""
