"""Hub passages are corrected for with the reference questions (CSLS)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.hubness import REFERENCE, hubness, rescaled


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_passage_near_every_reference_question_is_a_hub() -> None:
    rng = np.random.default_rng()
    # the reference questions span half of the space, the ordinary passages the other
    # half; the hub is the reference questions' centre, close to all of them
    reference = rng.normal(size=(len(REFERENCE), 32))
    reference[:, 16:] = 0
    reference = _unit(reference)
    others = rng.normal(size=(7, 32))
    others[:, :16] = 0
    centre = _unit(reference.mean(axis=0, keepdims=True))
    hubs = hubness(np.vstack([centre, _unit(others)]), reference)
    assert hubs[0] > 0.1
    assert np.allclose(hubs[1:], 0.0)


def test_only_a_hub_beyond_the_median_candidate_is_lowered() -> None:
    similarities = np.array([0.82, 0.80, 0.79, 0.78, 0.77])
    hubs = np.array([0.90, 0.70, 0.70, 0.69, 0.70])
    corrected = rescaled(similarities, hubs)
    assert corrected[0] == pytest.approx(0.62)
    assert corrected[0] < corrected[1]
    assert list(corrected[1:]) == list(similarities[1:])  # nobody is raised
    # too few candidates to tell a hub from a typical one: left as they are
    assert list(rescaled(similarities[:3], hubs[:3])) == list(similarities[:3])
    assert len(hubness(np.zeros((0, 16)), np.ones((3, 16)))) == 0
