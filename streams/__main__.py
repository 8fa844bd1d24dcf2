"""`python -m streams`: the crmkpi command line."""

from streams.cli import main

main()
