"""``python -m monitor``: the same as the ``monitor`` command."""

from monitor.cli.main import main

if __name__ == "__main__":
    main()
