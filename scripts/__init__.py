"""The top: the ``rrm`` command line (:mod:`scripts.cli`), the golden-vs-torch benchmark,
the analysis report and the Fig. 5 plot."""
