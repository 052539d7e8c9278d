"""``python -m sentiscore.cli``: the ``sentiscore`` command, for machines where the package is
on PYTHONPATH rather than installed with its entry points."""

from sentiscore.cli import main

main()
