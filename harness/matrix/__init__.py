"""The compatibility matrix: which behaviours a runtime gets right, next to other runtimes.

``recorder`` (a pytest plugin part) turns test outcomes into cells; ``document`` is the
``matrix.json`` contract; ``render_*`` and ``outputs`` write the human views; ``compare`` and
``runner`` back the ``cri-conformance report`` and ``run`` commands.
"""
