"""Cost models: cycles and resources of a spec, summed from what each engine and block reports."""
