"""`python -m accord.app` runs the command line."""

from accord.app.cli.main import main

main()
