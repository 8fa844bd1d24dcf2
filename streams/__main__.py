"""`python -m streams`: the crmkpi command line."""

from streams.cli.main import main

main()
