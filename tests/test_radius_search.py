"""RadiusSearch on a hand-made attack whose minimal radii are known: with a `measure`, the bracket
closes on the exact distance of the points found, not on the radii the attempts ran at."""

from __future__ import annotations

import torch

from wsattack.attacks.search import Attempt, RadiusSearch

RADII = torch.tensor([0.013, 0.05, 0.31, 0.77, 1.9], dtype=torch.float64)
DEPTH = 0.6  # the points found lie at this fraction of the radius tried (as Frank-Wolfe's do)


def _attack(calls, claims=1.0):
    """Fooled at eps >= RADII; its point is an image whose pixels hold its exact distance,
    max(RADII, DEPTH eps). It claims success from claims * RADII on: below RADII with a point
    outside the ball."""

    def attempt(rows, eps, start):
        calls.append(len(rows))
        success = eps >= claims * RADII[rows]
        distance = torch.maximum(RADII[rows], DEPTH * eps)
        adv = distance.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
        return Attempt(success, adv, torch.ones(len(rows), dtype=torch.long), success.long())

    return attempt


def _search(measure, claims=1.0):
    calls = []
    x = torch.zeros(len(RADII), 1, 2, 2, dtype=torch.float64)
    fooled = torch.zeros(len(RADII), dtype=torch.bool)
    pred = torch.zeros(len(RADII), dtype=torch.long)
    attack = _attack(calls, claims)
    found = RadiusSearch(rtol=0.02).run(attack, x, fooled, pred, measure=measure)
    return found, sum(calls)


def _measure(rows, points):
    return points.flatten(1)[:, 0]


def test_a_measured_search_reports_exact_distances_within_rtol_of_the_minimum():
    found, _ = _search(_measure)
    assert torch.equal(found.eps_found, found.adv.flatten(1)[:, 0])  # the point's own distance
    assert (found.eps_found >= RADII).all()
    assert (found.eps_found <= RADII * 1.02 * (1 + 1e-12)).all(), found.eps_found / RADII
    assert (found.eps_failed <= found.eps_found).all()
    assert (found.eps_found <= found.eps_failed * 1.02 * (1 + 1e-12)).all()


def test_measuring_needs_fewer_attempts_than_trusting_the_radius_tried():
    measured, attempts = _search(_measure)
    plain, plain_attempts = _search(None)
    assert attempts < plain_attempts
    # Unmeasured, eps_found is a radius tried: at or above the exact distance of its point.
    assert (plain.eps_found >= plain.adv.flatten(1)[:, 0]).all()
    assert (plain.eps_found >= RADII).all() and (plain.eps_found <= RADII * 1.02 * 1.0001).all()


def test_a_measured_point_outside_the_ball_it_was_found_in_counts_as_a_failure():
    """An attempt that claims success with a point up to twice outside its radius is overruled
    by the exact distance: the search still ends within rtol above the true minimum."""
    found, _ = _search(_measure, claims=0.5)
    assert (found.eps_found >= RADII).all(), found.eps_found / RADII
    assert (found.eps_found <= RADII * 1.02 * (1 + 1e-12)).all(), found.eps_found / RADII
    assert (found.eps_failed <= found.eps_found).all()
