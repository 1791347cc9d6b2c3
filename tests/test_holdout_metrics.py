"""The held-out benchmark's figures: joining scores to the truth, ROC-AUC, true and false alerts, episodes."""

from __future__ import annotations

import json

import pytest

from benchmarks.holdout import metrics

HEAD = "site,zone,scene_id,acquired,sensor,usable_fraction,change_fraction,crowd_score,vehicle_score\n"


def _truth(zone: str, scene: str, formation: str = "", episode: str = "", observable: bool = True) -> dict[str, str]:
    return {"zone": zone, "scene_id": scene, "formation": formation, "episode": episode, "observable": str(observable)}


def test_figures_count_true_and_false_alerts_and_the_first_alerted_view() -> None:
    rows = [
        ("a", "S2_1", 1.0, 0.1, 0.0, "", ""),
        ("a", "S2_2", 1.0, 0.2, 0.0, "", ""),
        ("a", "S2_3", 0.2, 0.9, 0.0, "crowd", "E1"),  # not usable: 20 % seen
        ("a", "S2_4", 0.9, 0.4, 0.0, "crowd", "E1"),
        ("a", "S2_5", 0.9, 0.8, 0.0, "crowd", "E1"),
        ("a", "S2_6", 1.0, 0.6, 0.0, "", ""),
    ]
    csv_text = HEAD + "".join(
        f"s,{z},{sc},2018-01-0{i + 1}T10:00:00+00:00,S2,{u},0,{c},{v}\n"
        for i, (z, sc, u, c, v, _, _) in enumerate(rows)
    )
    truth = [_truth(z, sc, f, e) for z, sc, _, _, _, f, e in rows]
    obs = metrics.join(csv_text, truth)
    alerts = metrics.parse_alerts(
        json.dumps(
            [
                {"id": "t", "zone": "a", "kind": "crowd", "scene_ids": ["S2_5"], "score": 0.8},
                {"id": "f", "zone": "a", "kind": "crowd", "scene_ids": ["S2_6"], "score": 0.6},
                {"id": "k", "zone": "a", "kind": "vehicle", "scene_ids": ["S2_5"], "score": 0.55},
            ]
        )
    )
    fg = metrics.figures(obs, alerts)
    # positives 0.4, 0.8 against negatives 0.1, 0.2, 0.6: 5 of 6 pairs ordered
    assert fg.auc_crowd == pytest.approx(5 / 6)
    assert fg.n_crowd_pos == 2
    assert fg.n_alerts == 3 and fg.n_false == 2 and fg.n_other_kind == 1
    assert fg.precision == pytest.approx(1 / 3)
    assert fg.false_per_100 == pytest.approx(100 * 2 / 3)
    assert fg.max_quiet_crowd == (0.6, "a/S2_6")
    # E1's usable views are S2_4 and S2_5; the true alert holds S2_5: alerted on the second
    assert fg.episodes == (("E1", "a/crowd", 2, "2"),)


def test_unseen_formations_and_empty_scores_are_neither_positive_nor_negative() -> None:
    csv_text = HEAD + (
        "s,a,S1_1,2018-01-01T17:00:00+00:00,S1,1,0,,0.9\n"
        "s,a,S1_2,2018-01-02T17:00:00+00:00,S1,1,0,,0.1\n"
        "s,a,S1_3,2018-01-03T17:00:00+00:00,S1,1,0,,\n"
        "s,a,S1_4,2018-01-04T17:00:00+00:00,S1,1,0,,0.3\n"
    )
    truth = [
        _truth("a", "S1_1", "crowd", "E1", observable=False),  # radar does not see people
        _truth("a", "S1_2"),
        _truth("a", "S1_3", "vehicle", "E2"),
        _truth("a", "S1_4", "vehicle", "E2"),
    ]
    fg = metrics.figures(metrics.join(csv_text, truth), [])
    assert fg.auc_vehicle_s1 == pytest.approx(1.0) and fg.n_vehicle_pos == 1
    assert fg.auc_crowd is None
    assert dict((e, r) for e, _, _, r in fg.episodes) == {"E1": "no view", "E2": "missed"}
    assert fg.precision is None and fg.n_false == 0


def test_a_score_row_without_truth_is_an_error() -> None:
    with pytest.raises(ValueError, match="no truth row"):
        metrics.join(HEAD + "s,b,S2_9,2018-01-01T10:00:00+00:00,S2,1,0,0,0\n", [])
