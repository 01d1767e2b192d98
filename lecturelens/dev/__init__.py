"""Development tools, apart from the runtime package: nothing under ``lecturelens`` outside
this subpackage imports it (``tests/test_layers.py`` checks).

* :mod:`.compose` and :mod:`.skins`: compose gallery recordings of real faces with a truth
  file (``sample_videos/compose_gallery.py``), for tests and benchmarks;
* :mod:`.evaluate`: score a report against such a truth (faces found, tracks, who is who,
  names read);
* :mod:`.commands`: the development commands (``train-emotion``, ``soup-emotion``,
  ``eval-emotion``, ``eval-people``), reachable as ``lecturelens <command>`` (loaded on
  demand) or ``python -m lecturelens.dev <command>``.
"""
