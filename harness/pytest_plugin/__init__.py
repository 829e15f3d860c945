"""The harness inside pytest: the ``cri_conformance`` plugin and the run it keeps.

- ``plugin``: the ``pytest11`` entry point, its hooks and the CRI fixtures, with the fixtures
  that need the host in ``container_fixtures``;
- ``activation`` and ``options``: in which sessions it acts, and its ``--cri-*`` options;
- ``session`` and ``selection``: the run against one runtime, shared by every xdist worker, and
  the features it runs;
- ``run_description`` and ``sweep_report``: what the header, the summary and ``leaks.json`` say;
- ``stash_keys``: what the plugins keep in pytest's stashes between hooks.

The matrix recorder (``harness.matrix.recorder``) and the property suite's plugin
(``harness.properties.plugin``) are pytest plugins too; they live with what they serve.
"""
