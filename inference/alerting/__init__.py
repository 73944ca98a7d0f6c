"""Alerting on complaint volumes: spike and new-theme detection per product × topic/issue type."""

from inference.alerting.spikes import (
    SpikeConfig,
    SpikeDetection,
    count_matrix,
    detect_spikes,
    detections_frame,
)

__all__ = ["SpikeConfig", "SpikeDetection", "count_matrix", "detect_spikes", "detections_frame"]
