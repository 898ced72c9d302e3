"""Corners of the whole accelerator that a correct-looking run does not reach, each against
golden bit for bit through the top-level ports only (docs/design.md §8):

* the class beat's tie rule: two classes with the same, highest logit give the lower index;
* ``image_error``: a frame cut short and a frame too long set it; the image is still
  computed (the pixel count ends an image, not ``tlast``), and the next correct image is
  classified bit-exactly with ``image_error`` clear;
* the pool over a last map of many FM words (every other spec ends in a map of one word),
  cycle for cycle against the cycle model;
* small BN shifts (0 .. 8, where the low bits of ``acc*m + b`` decide activations) and a
  slow camera (conv1 catches up with the image loader and waits on its ring), every
  feature map the RTL writes against golden's;
* every bit of the BN units' over-range masks and windows alone (a walking bit);
* a parameter stream offered mid-image waits for the image.
"""

from __future__ import annotations

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from rrm.param_stream import pack_parameters

from .accelerator_sim import first_mismatch, simulate
from .artifacts import WALK_STRIDE, bn_walk_artifact, shift_spread_artifact, tied_artifact
from .conftest import simulator
from .mutation import busy_steps
from .specs import last_map_5x5
from .test_accelerator import SPEC, check_bit_exact, random_images

#: Pixels of one tiny image.
PIXELS = SPEC.network.input_size ** 2


def test_argmax_tie_goes_to_the_lowest_index(tmp_path):
    """Classes 3 and 6 (different FC rows, neither first nor last) tie for the top logit:
    golden and the RTL's class beat both give 3."""
    low, high = 3, 6
    images = random_images(2, 21)
    artifact = tied_artifact(SPEC, 14, low, high, images)
    golden = model.run(artifact, images)
    for index, logits in enumerate(golden):
        top = logits.max()
        assert logits[low] == logits[high] == top and np.sum(logits == top) == 2, \
            f"image {index}: golden logits {logits.tolist()} have no tie of classes {low} and {high} on top"
    assert model.predict(golden).tolist() == [low] * len(images), "golden's argmax breaks ties elsewhere"
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    image_results = results["steps"][1]["images"]
    for index, result in enumerate(image_results):
        logits = result["logits"]
        assert logits[low] == logits[high] == max(logits), \
            f"image {index}: RTL logits {logits} have no tie of classes {low} and {high} on top"
        assert result["class"] == low, (f"image {index}: classes {low} and {high} tie on logit "
                                        f"{logits[low]}; RTL class {result['class']}, want the lowest "
                                        f"index {low}")
    check_bit_exact(artifact, images, image_results)


def run_frames(tmp_path, artifact, images: np.ndarray, lengths: list) -> list:
    """The results of ``images`` sent as frames of ``lengths`` pixels (tlast on each frame's
    final pixel), one result per image."""
    pixels = images.reshape(-1, SPEC.network.input_channels)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "frames", "data": pixels, "lengths": lengths,
                               "results": len(images)}], tmp_path, simulator=simulator())
    return results["steps"][1]["images"]


def check_frames(artifact, images, image_results, want_errors: list, what: list) -> None:
    """Each image's ``image_error`` as ``want_errors``; every image's logits and class as
    golden's (the pixel count, not ``tlast``, ends an image)."""
    errors = [result["image_error"] for result in image_results]
    for index, (got, want) in enumerate(zip(errors, want_errors)):
        assert got == want, f"image {index} ({what[index]}): image_error {got}, want {want} (all: {errors})"
    golden = model.run(artifact, images)
    for index, (result, want) in enumerate(zip(image_results, golden)):
        assert result["logits"] == want.tolist() and result["class"] == int(np.argmax(want)), \
            (f"image {index} ({what[index]}): RTL logits {result['logits']} class {result['class']}, "
             f"golden {want.tolist()} class {int(np.argmax(want))}")


def test_short_frame_sets_image_error_and_the_next_image_is_exact(tmp_path):
    """Image 1 comes as a frame of 101 pixels (tlast on pixel 100, mid-word) and a second frame
    with the rest of its pixels: image_error is set for it, the image is computed from its
    1,024 pixels, and image 2, a correct frame, is bit-exact with image_error clear. (A
    correct frame right after the short one, without the rest, would complete the short
    image: the accelerator counts pixels and does not resynchronise on tlast.)"""
    artifact = random_artifact(SPEC, 15)
    images = random_images(3, 23)
    short = 101
    results = run_frames(tmp_path, artifact, images, [PIXELS, short, PIXELS - short, PIXELS])
    check_frames(artifact, images, results, [0, 1, 0],
                 ["a correct frame", f"tlast on pixel {short - 1}, then the rest", "a correct frame"])


def test_long_frame_sets_image_error_and_the_next_image_is_exact(tmp_path):
    """Image 0 comes without tlast on its final pixel, its frame running on into 37 pixels of
    image 1 (tlast there); the rest of image 1 follows as a frame: image_error is set for
    both (image 1's tlast came on its pixel 36), both are computed from their 1,024
    pixels, and image 2, a correct frame, is bit-exact with image_error clear."""
    artifact = random_artifact(SPEC, 16)
    images = random_images(3, 25)
    extra = 37
    results = run_frames(tmp_path, artifact, images, [PIXELS + extra, PIXELS - extra, PIXELS])
    check_frames(artifact, images, results, [1, 1, 0],
                 ["no tlast on its final pixel", f"tlast on pixel {extra - 1}", "a correct frame"])


def test_pool_walks_a_last_map_of_many_words(tmp_path):
    """The 5 x 5 last map of :func:`tb.specs.last_map_5x5` (13 words of 2 pixels, 4 groups):
    bit-exact against golden and every layer's cycles as the cycle model says."""
    spec = last_map_5x5()
    size, channels = spec.network.input_size, spec.network.input_channels
    images = np.concatenate([
        np.random.default_rng(27).integers(0, 256, size=(1, size, size, channels), dtype=np.uint8),
        np.full((1, size, size, channels), 255, np.uint8)])
    artifact = random_artifact(spec, 17)
    results = simulate(spec, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    image_results = results["steps"][1]["images"]
    check_bit_exact(artifact, images, image_results)
    cycles = cycle_model(spec)
    want = {layer.name: layer.cycles for layer in cycles.layers}
    for index, result in enumerate(image_results):
        got = dict(zip(want, result["layer_cycles"]))
        assert got == want, f"image {index}: RTL layer cycles {got}, cycle model {want}"
        assert result["cycles"] == cycles.cycles, \
            f"image {index}: RTL {result['cycles']} cycles, cycle model {cycles.cycles}"


def check_monitored(artifact, images, work_dir, image_pause=None) -> dict:
    """Run ``images`` under ``artifact`` with pauses on every stream and every FM write
    monitored: the logits bit-exact and every conv/dw/pw map the RTL writes as golden's.
    Returns golden's trace."""
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], work_dir, simulator=simulator(),
                       gaps=True, backpressure=True, image_pause=image_pause, monitor=True)
    check_bit_exact(artifact, images, results["steps"][1]["images"])
    _, trace = model.run(artifact, images, trace=True)
    report = first_mismatch(SPEC, results["writes"], {name: values[0] for name, values in trace.items()})
    assert report is None, f"the RTL's feature maps differ from golden's: {report}"
    return trace


def test_small_shifts_and_a_slow_camera(tmp_path):
    """The mutation plan's run 1 (:func:`tb.artifacts.shift_spread_artifact`: dw layers at
    shifts 0..6, conv/pw too, weights -1..1) with the image stream idle on 90 % of cycles and pauses on
    every other stream: every conv/dw/pw map the RTL writes equals golden's, logits too."""
    artifact = shift_spread_artifact(SPEC, 15)
    check_monitored(artifact, random_images(1, 22), tmp_path, image_pause=0.9)
    shifts = {int(artifact.params[f"{layer.name}.shift"]) for layer in SPEC.layers()
              if layer.kind in ("conv", "dw", "pw")}
    assert {0, 1, 2} <= shifts, f"the artifact's shifts {sorted(shifts)} miss the smallest"


def test_every_bn_bit_alone(tmp_path):
    """The mutation plan's run 2 (:func:`tb.artifacts.bn_walk_artifact`: half the channels of
    every layer constant, ``acc*m + b`` one bit walking up the BN sum), pauses on every
    stream: every bit of the over-range masks and windows decides some activation; every
    map the RTL writes equals golden's, logits too."""
    artifact = bn_walk_artifact(SPEC, 16)
    trace = check_monitored(artifact, random_images(1, 23), tmp_path)
    # the walk puts every bit below the bias's sign bit alone in some dw channel, on both sides of the mask
    bits, sides = set(), set()
    for layer in SPEC.layers():
        if layer.kind == "dw":
            bias = artifact.params[f"{layer.name}.bn_bias"][::WALK_STRIDE]
            bits |= {int(b).bit_length() - 1 for b in bias}
            sides |= {int(v == 15) for v in np.unique(trace[layer.name][0][..., ::WALK_STRIDE])}
    assert bits == set(range(SPEC.quant.bn_bias_bits - 1)) and sides == {0, 1}, (sorted(bits), sides)


def test_params_offered_mid_image_wait_for_it(tmp_path):
    """A parameter stream offered while an image computes is held off (the loader takes no
    beat while busy): the image keeps the old parameters, the stream then loads, and the
    same image under the new parameters is bit-exact with them."""
    old, new = random_artifact(SPEC, 3), random_artifact(SPEC, 7)
    image = random_images(1, 24)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(old)},
                              *busy_steps(image, pack_parameters(new))], tmp_path, simulator=simulator())
    steps = results["steps"]
    assert steps[1]["images"] == [] and (steps[2]["loaded"], steps[2]["error"]) == (1, 0)
    check_bit_exact(old, image, steps[3]["images"])
    check_bit_exact(new, image, steps[4]["images"])
    assert not np.array_equal(model.run(old, image), model.run(new, image)), "the two artifacts agree"
