"""``python -m sentiscore``: the same CLI as the ``sentiscore`` command."""

from sentiscore.cli import main

main()
