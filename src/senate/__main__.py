"""`python -m senate` is the `senate` command."""

from senate.cli.main import main

if __name__ == "__main__":
    main()
