"""The classification report in a real headless Chromium: rendered, slider moved, a label picked,
the numbers read back from the page and compared with the metrics they come from.

Set ``AUTOML_VIDEO_SCREENSHOTS=DIR`` to keep the screenshots (:meth:`tests.browser.Page.screenshot`).
"""

import numpy as np
import pytest

from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import Calibration, LabelCalibration
from automl_video.report import ReportContext, relative_luminance
from automl_video.tasks.classification.metrics import CONFIDENCE_THRESHOLDS, compute_metrics
from automl_video.tasks.classification.report import render_report

SPECS = [AnnotationSpec(id=str(10 + i), display_name=name) for i, name in enumerate(["left", "right", "up <&>"])]
CONTEXT = ReportContext("/models/m1", "/datasets/d1", "CLOUD", "2026-12-02T03:00:00Z")


def scored(examples: int = 60, unlabelled: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy scores of a 3-label single-label problem; the first ``unlabelled`` rows have no label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SPECS), examples)
    truth = np.eye(len(SPECS), dtype=bool)[labels]
    truth[:unlabelled] = False
    scores = np.clip(0.3 * truth + rng.uniform(0, 0.7, truth.shape), 0, 1).round(3)
    return scores, truth


def open_report(page, tmp_path, metrics, calibration: Calibration | None = None) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_report(metrics, SPECS, CONTEXT, calibration))
    page.open(str(path))


def card(page, name: str) -> float:
    return float(page.text(f"#{name}"))


def row_numbers(page, label: int) -> list[float]:
    return [float(page.text(f'tr[data-label="{label}"] .{k}')) for k in ("p", "r", "f")]


def test_slider_and_label_show_the_numbers_of_the_metrics(page, tmp_path):
    metrics = compute_metrics(*scored(), SPECS)
    open_report(page, tmp_path, metrics)
    assert page.errors == []
    assert page.evaluate("document.querySelectorAll('[src^=http],[href^=http],link[rel=stylesheet]').length") == 0

    # At the summary threshold (0.5), overall numbers.
    i = CONFIDENCE_THRESHOLDS.index(0.5)
    assert page.text("#threshold") == "0.50"
    entry = metrics.overall.confidence_metrics[i]
    assert card(page, "precision") == pytest.approx(entry.precision, abs=5e-4)
    assert card(page, "recall") == pytest.approx(entry.recall, abs=5e-4)
    assert card(page, "precisionAt1") == pytest.approx(entry.precision_at1, abs=5e-4)
    assert card(page, "auPrc") == pytest.approx(metrics.overall.au_prc, abs=5e-4)
    page.screenshot(str(tmp_path), "classification-report-initial.png")

    # Both charts have axes with ticks 0.0..1.0 and a grid.
    for chart in ("#pr", "#by-threshold"):
        ticks = page.evaluate(
            f"[].map.call(document.querySelectorAll('{chart} .tick-x'), function(t) {{ return t.textContent; }})"
        )
        assert ticks == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        assert page.evaluate(f"document.querySelectorAll('{chart} .tick-y').length") == 6
        assert page.evaluate(f"document.querySelectorAll('{chart} line.grid').length") == 12
    # The PR curve is the step curve at every distinct score: one horizontal move per step.
    path = page.evaluate("document.querySelector('#pr path.series').getAttribute('d')")
    assert path.count("H") == len(metrics.overall.steps.recall) > len(CONFIDENCE_THRESHOLDS)

    # A real key press on the focused slider moves it three thresholds up.
    page.click("#slider")
    clicked = page.evaluate("+document.getElementById('slider').value")
    page.press("ArrowRight", 39, times=3)
    i = clicked + 3
    assert page.text("#threshold") == f"{CONFIDENCE_THRESHOLDS[i]:.2f}"
    entry = metrics.overall.confidence_metrics[i]
    assert card(page, "precision") == pytest.approx(entry.precision, abs=5e-4)
    assert card(page, "f1") == pytest.approx(entry.f1_score, abs=5e-4)
    for j, label in enumerate(metrics.per_label):
        e = label.confidence_metrics[i]
        assert row_numbers(page, j) == pytest.approx([e.precision, e.recall, e.f1_score], abs=5e-4)
    marker = page.evaluate("[+document.querySelector('#pr .marker').getAttribute('cx')]")[0]
    assert marker == pytest.approx(44 + 300 * entry.recall, abs=0.01)

    # Clicking a row picks its label: its own cards and curves.
    page.click('tr[data-label="2"]')
    assert page.evaluate("document.getElementById('label').value") == "2"
    assert page.evaluate("document.querySelector('tr[data-label=\"2\"]').classList.contains('selected')")
    label = metrics.per_label[2]
    assert card(page, "auPrc") == pytest.approx(label.au_prc, abs=5e-4)
    assert card(page, "count") == label.evaluated_example_count
    assert card(page, "recall") == pytest.approx(label.confidence_metrics[i].recall, abs=5e-4)
    label_path = page.evaluate("document.querySelector('#pr path.series').getAttribute('d')")
    assert label_path.count("H") == len(label.steps.recall) and label_path != path
    assert page.evaluate("document.querySelector('#pr path.series').dataset.name") == "up <&>"
    page.screenshot(str(tmp_path), "classification-report-label-selected.png")

    # Sorting by AU-PRC (a click on the header): ascending, then descending.
    page.click("#labels th:nth-child(3)")
    order = page.evaluate(
        "[].map.call(document.querySelectorAll('#labels tr[data-label]'), function(r) { return +r.dataset.label; })"
    )
    assert order == sorted(range(3), key=lambda j: metrics.per_label[j].au_prc)
    page.click("#labels th:nth-child(3)")
    order = page.evaluate(
        "[].map.call(document.querySelectorAll('#labels tr[data-label]'), function(r) { return +r.dataset.label; })"
    )
    assert order == sorted(range(3), key=lambda j: -metrics.per_label[j].au_prc)
    assert page.errors == []


def test_best_validation_thresholds_of_a_calibrated_model_are_in_the_table_and_the_label_cards(page, tmp_path):
    labels = tuple(
        LabelCalibration(1.2, -0.1, positives, 0.4, 0.7, threshold, 0.75)
        for positives, threshold in ((4, 0.4125), (3, 0.61), (0, None))
    )
    calibration = Calibration("platt", 20, labels, f1_before=0.4, f1_after=0.7, best_f1=0.75)
    open_report(page, tmp_path, compute_metrics(*scored(), SPECS), calibration)

    assert [page.text(f'tr[data-label="{j}"] .best') for j in range(3)] == ["0.412", "0.610", "—"]
    assert page.text("#bestThreshold") == "—"  # all labels: no one threshold
    page.click('tr[data-label="1"]')
    assert page.text("#bestThreshold") == "0.610"
    assert "calibrated on VALIDATION (platt; F1 at 0.5 there 0.400 → 0.700)" in page.text("#labels + .note")
    page.click("#labels th:nth-child(7)")  # ascending: the label without a threshold first
    order = page.evaluate(
        "[].map.call(document.querySelectorAll('#labels tr[data-label]'), function(r) { return +r.dataset.label; })"
    )
    assert order == [2, 0, 1]
    assert page.errors == []


def test_confusion_matrix_has_counts_row_shares_and_aa_contrast(page, tmp_path):
    metrics = compute_metrics(*scored(), SPECS)
    open_report(page, tmp_path, metrics)
    cells = page.evaluate(
        "[].map.call(document.querySelectorAll('.cm td'), function(td) { var s = getComputedStyle(td);"
        " return [td.dataset.count, td.textContent, s.color, s.backgroundColor]; })"
    )
    rows = metrics.overall.confusion_matrix.rows
    expected = [(count, count / sum(row)) for row in rows for count in row]
    assert len(cells) == len(expected) == 9
    for (count, text, colour, background), (want, share) in zip(cells, expected):
        assert int(count) == want and text == f"{want}{100 * share:.0f}%"
        ratio = contrast(colour, background)
        assert ratio >= 4.5, f"{text}: {colour} on {background} is {ratio:.2f}:1"
    page.screenshot(str(tmp_path), "classification-report-confusion-matrix.png")


def test_without_a_confusion_matrix_the_page_says_why(page, tmp_path):
    metrics = compute_metrics(*scored(unlabelled=1), SPECS)
    open_report(page, tmp_path, metrics)
    assert page.evaluate("document.querySelectorAll('.cm').length") == 0
    note = page.text("#no-confusion-matrix")
    assert "1 of 60 TEST segments has no label" in note and "exactly one label" in note
    assert page.errors == []


def contrast(colour: str, background: str) -> float:
    """WCAG contrast of two ``rgb(r, g, b)`` computed styles."""

    def luminance(css: str) -> float:
        return relative_luminance([int(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]])

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
