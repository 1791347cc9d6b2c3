"""The ``monitor`` command line: argument parsing only; every command calls library functions."""
