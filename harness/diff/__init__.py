"""Differential mode (``cri-conformance diff``): the same generated pods on two runtimes.

The pieces, in the order a run meets them:

- ``command``: the command line of ``diff`` and ``replay --diff``;
- ``areas`` and ``generated``: what a diff covers, and the specs it generates (the property
  tests' valid-spec strategies) and gives each runtime;
- ``pair`` and ``collect``: both runtimes, and one spec run and observed on one of them, with
  ``inside`` (the probes run in each container) and ``observation`` (the record, its fields);
- ``normalise``, ``compare`` and ``known``: what is expected to differ, the comparison, and the
  differences listed as accepted (``entries`` reads the files of the last two);
- ``driver``: hypothesis explores, then shrinks each new difference;
- ``report`` and ``render``: diff.json, diff.md, diff.html and the spec files.
"""
