"""``python -m jobstore``: the same command line as the ``jobstore`` script."""

from jobstore.cli import main

if __name__ == "__main__":
    main()
