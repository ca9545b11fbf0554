"""Streaming nodes (``read.streaming``): Spark Structured Streaming queries run as bounded
materializations (``availableNow``), each micro-batch validated and written exactly once."""

from odibi_core.streaming.node_stream import checkpoint_location, run_streaming_node, stream_app_id
from odibi_core.streaming.summary import MicroBatch, StreamSummary

__all__ = ["MicroBatch", "StreamSummary", "checkpoint_location", "run_streaming_node",
           "stream_app_id"]
