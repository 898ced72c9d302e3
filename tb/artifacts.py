"""Artifacts built for the RTL checks' corners (the suite's tests and the mutation plan):

* :func:`tied_artifact`: two classes tie on the top logit of given images (the class
  beat's tie rule);
* :func:`shift_spread_artifact`: every layer at a small shift (0..6) with small weights,
  BN calibrated there, so the low bits of ``acc*m + b`` decide most activations.
"""

from __future__ import annotations

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import Artifact, validate_params
from rrm.spec import Spec

#: The shift-spread artifact's dw layers take shifts 0 .. SPREAD_SHIFTS - 1 in turn, and so do its
#: conv and pw layers; their weights are drawn from -SPREAD_WEIGHT_LIMIT .. SPREAD_WEIGHT_LIMIT.
SPREAD_SHIFTS = 7
SPREAD_WEIGHT_LIMIT = 1


def tied_artifact(spec: Spec, seed: int, low: int, high: int, images: np.ndarray) -> Artifact:
    """A random artifact of ``spec`` whose FC gives classes ``low`` and ``high`` the same weights and
    bias (equal logits on every image), that bias lifted so the two are the top logits of
    every image in ``images``, by 1 over the next."""
    artifact = random_artifact(spec, seed)
    params = dict(artifact.params)
    weight, bias = params["fc.weight"].copy(), params["fc.bias"].copy()
    weight[high] = weight[low]
    bias[high] = bias[low]
    probe = model.run(Artifact(spec, {**params, "fc.weight": weight, "fc.bias": bias}), images)
    others = np.delete(probe, [low, high], axis=1).max(axis=1)
    lift = int((others - probe[:, low]).max()) + 1
    bias[low] += lift
    bias[high] += lift
    params.update({"fc.weight": weight, "fc.bias": bias})
    return Artifact(spec=spec, params=validate_params(spec, params, source="tied artifact"),
                    manifest=artifact.manifest)


def shift_spread_artifact(spec: Spec, seed: int) -> Artifact:
    """A random artifact (:func:`golden.random_weights.random_artifact`) with small shifts:
    the dw layers take the shifts ``0, 1, ..., SPREAD_SHIFTS - 1`` in turn and so do the
    conv/pw layers (the calibrated shifts, ~14..25, are what run 0 covers). Their weights
    are drawn from -1..1 (``SPREAD_WEIGHT_LIMIT``) so that accumulators stay small and BN,
    calibrated at the forced shift, still puts most outputs strictly inside 0..act_max:
    there the BN unit's low bits and small-shift windows decide the values."""
    shifts, turns = {}, {"dw": 0, "pw": 0}
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            kind = "dw" if layer.kind == "dw" else "pw"
            shifts[layer.name] = turns[kind] % SPREAD_SHIFTS
            turns[kind] += 1
    return random_artifact(spec, seed, shifts=shifts,
                           weight_limits={name: SPREAD_WEIGHT_LIMIT for name in shifts})
